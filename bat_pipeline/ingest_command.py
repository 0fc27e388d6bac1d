"""`bat-pipeline ingest PATH...`: load files directly (no Dagster run), check, rebuild events.

The same ingestion and quality code as the `raw_events` asset and its check; use the landing
folder + Dagster (sensor, schedule or UI) for the daily flow, this command for ad-hoc files.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bat_pipeline.config import BatConfig
from bat_pipeline.home import BatHome
from bat_pipeline.landing import SUFFIXES


def expand(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Files named directly, plus the event files inside named folders; missing paths are errors."""
    files, errors = [], []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(SUFFIXES)
            )
        elif path.exists():
            files.append(path)
        else:
            errors.append(f"{path}: no such file or folder")
    return files, errors


def ingest_paths(
    home: BatHome,
    cfg: BatConfig,
    paths: list[Path],
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Ingest every file, run the quality suite on what changed, rebuild the events table."""
    from bat_pipeline.features import replace_table
    from bat_pipeline.ingest import IngestError, ingest_file, learn_vocabulary, totals
    from bat_pipeline.quality_gate import check_partitions
    from bat_pipeline.warehouse import writer

    home.ensure()
    files, errors = expand(paths)
    results = []
    now = datetime.now(UTC)
    with writer(home.warehouse) as con:
        learn_vocabulary(con, files, cfg.data, now)
        for i, path in enumerate(files):
            try:
                results.append(ingest_file(con, path, cfg.data, now=now))
            except IngestError as exc:
                errors.append(str(exc))
            if progress:
                progress(i + 1, len(files))
        changed = [r.partition_key for r in results if not r.skipped]
        reports = check_partitions(con, changed, cfg.data, home, now=now) if changed else {}
        replace_table(con, "events")
    from bat_pipeline.orchestrate import record_cli_loads

    record_cli_loads(home, results)
    return {
        **totals(results),
        "files_loaded": len(changed),
        "files": [r.to_dict() for r in results],
        "quality_failed": sorted(k for k, rep in reports.items() if not rep.success),
        "quality": {
            k: [o.name for o in rep.failed()] for k, rep in reports.items() if not rep.success
        },
        "errors": errors,
        "warehouse": str(home.warehouse),
    }
