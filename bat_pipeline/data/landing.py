"""The landing folder: where event files arrive, one per day, never modified by BAT."""

from __future__ import annotations

import logging
from pathlib import Path

from bat_pipeline.data.ingest import partition_key_for

SUFFIXES = (".csv", ".csv.gz", ".parquet")
log = logging.getLogger(__name__)


class LandingError(ValueError):
    """The landing folder does not hold exactly one file for a partition."""


def landing_files(folder: Path) -> dict[str, list[Path]]:
    """Partition key -> files for it, for every event file in `folder` (sorted). A link that
    leads outside the folder is left out with a warning: the landing folder is the only place
    the pipeline reads deliveries from."""
    found: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return found
    root = folder.resolve()
    for path in sorted(folder.iterdir()):
        if not (path.is_file() and path.name.lower().endswith(SUFFIXES)):
            continue
        if not path.resolve().is_relative_to(root):
            log.warning("landing: ignoring %s, a link to %s outside %s", path, path.resolve(), root)
            continue
        found.setdefault(partition_key_for(path), []).append(path)
    return found


def file_for(folder: Path, partition_key: str) -> Path:
    """The one landing file of a partition; errors say what is missing or ambiguous."""
    files = landing_files(folder).get(partition_key, [])
    if not files:
        raise LandingError(
            f"no landing file for partition {partition_key} in {folder} "
            f"(expected e.g. events_{partition_key}.csv)"
        )
    if len(files) > 1:
        raise LandingError(
            f"{len(files)} landing files for partition {partition_key}: "
            f"{[f.name for f in files]}; keep one file per day"
        )
    return files[0]
