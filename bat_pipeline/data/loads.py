"""Loading a batch of event files, one partition each: what the CLI and the raw_events asset share.

The vocabulary is learned from the whole batch on a first load, then every file is loaded on
its own: a daily file (a date in its name) into its day, an export into one partition per
event day. A file that cannot be loaded is reported and the others still load.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from bat_pipeline.config import DataConfig
from bat_pipeline.data.exports import ingest_export, is_export
from bat_pipeline.data.ingest import IngestError, IngestResult, ingest_file, learn_vocabulary
from bat_pipeline.data.sqlfiles import query
from bat_pipeline.data.warehouse import check_free_space, database_path


@dataclass
class LoadBatch:
    """The outcome of one batch: a result per loaded partition (an export yields one per day),
    an error message per refused file."""

    results: list[IngestResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        """Days whose content changed (loaded, not skipped as identical)."""
        return [r.partition_key for r in self.results if not (r.skipped or r.undated)]


def load_files(
    con: duckdb.DuckDBPyConnection,
    files: list[Path],
    cfg: DataConfig,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> LoadBatch:
    """Load every file into its partition; `progress(done, total)` after each file. Refused
    before any write when the disk lacks room for twice the files plus data.min_free_disk_mb."""
    need = 2 * sum(p.stat().st_size for p in files) + cfg.min_free_disk_mb * 2**20
    check_free_space(database_path(con), need)
    batch = LoadBatch()
    learn_vocabulary(con, files, cfg, now)
    for i, path in enumerate(files):
        try:
            if is_export(path):
                batch.results += ingest_export(con, path, cfg, now=now)
            else:
                batch.results.append(ingest_file(con, path, cfg, now=now))
        except IngestError as exc:
            batch.errors.append(str(exc))
        if progress:
            progress(i + 1, len(files))
    return batch


def totals(results: list[IngestResult]) -> dict:
    """Rows read / loaded / quarantined, reasons (most frequent first), and partitions loaded
    for the first time, replaced with new content or unchanged, over several loads: what both
    the CLI and the raw_events asset report."""
    reasons: Counter[str] = Counter()
    for result in results:
        reasons.update(result.quarantine_reasons)
    days = [r for r in results if not r.undated]
    return {
        "rows_read": sum(r.rows_read for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
        "quarantine_reasons": dict(reasons.most_common()),
        "files_unchanged": sum(r.skipped for r in results),
        "days_loaded": sum(not (r.skipped or r.replaced) for r in days),
        "days_replaced": sum(r.replaced and not r.skipped for r in days),
        "days_unchanged": sum(r.skipped for r in days),
    }


def changed_days(con: duckdb.DuckDBPyConnection, since: datetime, as_of: date) -> list[str]:
    """Days loaded or replaced after `since` (naive UTC) that lie before `as_of`: what a
    model trained, or feature tables built, at `since` as of `as_of` has not seen."""
    rows = con.execute(query("changed_days"), {"since": since, "as_of": as_of}).fetchall()
    return [day for (day,) in rows]
