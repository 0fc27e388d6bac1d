"""Loading a multi-day export: one file split into daily partitions by event date (UTC).

A file whose name holds no `YYYY-MM-DD` is an export. Its rows are cast and checked like a
daily file's, then each row goes to the partition of its event day; rows without a usable
time (missing, unparsable, in the future) and malformed lines are quarantined under the
file's own key (its stem). Each partition keeps a hash of its rows as cast, so re-ingesting
the same export changes nothing and a corrected export replaces only the days whose rows
changed. All days of one file are swapped in one transaction; rows are conserved per day
(`rows_read == rows_loaded + rows_quarantined`) and for the file.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb

from bat_pipeline.config import DataConfig
from bat_pipeline.data.ingest import (
    IngestResult,
    _stage,
    check_reject_share,
    load_transaction,
    naive_utc,
    staging_params,
    swap_staged,
    unchanged_load,
)
from bat_pipeline.data.source_files import (
    IngestError,
    check_readable,
    partition_key_for,
    read_raw,
    source_columns,
)
from bat_pipeline.data.sqlfiles import query
from bat_pipeline.data.warehouse import fetch_one

#: prefix of the content hash an export records per day (a daily file records its file hash)
_ROWS_HASH = "rows:"


def is_export(path: Path) -> bool:
    """True for a file whose name holds no valid `YYYY-MM-DD`: it is split by event day."""
    try:
        datetime.strptime(partition_key_for(Path(path)), "%Y-%m-%d")
    except ValueError:
        return True
    return False


def ingest_export(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    cfg: DataConfig,
    *,
    now: datetime | None = None,
) -> list[IngestResult]:
    """Load an export into one partition per event day (plus its undated remainder); one
    result per partition, `skipped` for a day whose rows did not change."""
    path = Path(path)
    kind = check_readable(path)
    undated_key = partition_key_for(path)
    now = naive_utc(now)
    raw = read_raw(con, path, kind)
    _stage(con, raw, source_columns(path, raw.columns, cfg))
    try:
        with load_transaction(con, path):
            params = staging_params(con, cfg, now)
            con.execute("create or replace temp table staged as " + query("staged_events"), params)
            con.execute(
                "create or replace temp table staged_file as " + query("export_days"),
                {"undated_key": undated_key},
            )
            parts = _day_contents(con, path, kind, undated_key)
            check_reject_share(
                con,
                path,
                cfg,
                malformed=sum(p[2] for p in parts.values()),
                rows_read=sum(p[0] for p in parts.values()),
            )
            results = [
                _load_day(con, path, key, part, now, undated=key == undated_key)
                for key, part in parts.items()
            ]
    finally:
        con.execute("drop table if exists staged_file")
    return results


def _day_contents(
    con: duckdb.DuckDBPyConnection, path: Path, kind: str, undated_key: str
) -> dict[str, tuple[int, int, int, str]]:
    """partition key -> (rows read, loadable rows, malformed lines, content hash)."""
    parts = {
        key: (int(total), int(loaded), 0, content)
        for key, total, loaded, content in con.execute(query("export_day_summary")).fetchall()
    }
    if kind == "csv":
        malformed, content = fetch_one(con, query("malformed_content"))
        if malformed:
            total, loaded, _, rows = parts.get(undated_key, (0, 0, 0, "0"))
            parts[undated_key] = (total + malformed, loaded, int(malformed), f"{rows}+{content}")
    if not parts:
        raise IngestError(f"{path}: the file has a header but no rows; nothing to load")
    return parts


def _load_day(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    key: str,
    part: tuple[int, int, int, str],
    now: datetime,
    *,
    undated: bool,
) -> IngestResult:
    rows_read, loaded, malformed, content = part
    digest = f"{_ROWS_HASH}{rows_read}:{content}"
    previous, unchanged = unchanged_load(con, path, key, digest)
    if unchanged is not None:
        return replace(unchanged, undated=undated)
    con.execute(
        "create or replace temp table staged as "
        "select * exclude (day_key, row_hash) from staged_file where day_key = $key",
        {"key": key},
    )
    result = swap_staged(
        con,
        path,
        key,
        digest,
        now,
        rows_read=rows_read,
        loaded=loaded,
        with_malformed=malformed > 0,
    )
    return replace(result, undated=undated, replaced=previous is not None)
