"""The DuckDB warehouse: one writer at a time, readers read-only, bounded retries, and the
tables rebuilt from `sql/tables/`.

Each table is `create or replace table <name> as <sql/tables/<name>.sql>` with bound
parameters, so a rebuild is idempotent and atomic (DuckDB swaps the table at commit).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from bat_pipeline.data.sqlfiles import query, statement, table


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file's write lock and did not let go in time."""


class WarehouseWalError(RuntimeError):
    """DuckDB cannot replay the warehouse's write-ahead log; the message is the runbook."""


class WarehouseDiskFullError(RuntimeError):
    """The warehouse's filesystem is (nearly) full; nothing of the failed write was kept."""


def wal_path(path: Path) -> Path:
    """DuckDB's write-ahead log of the database file `path`."""
    return path.with_name(path.name + ".wal")


def _wal_error(path: Path, exc: duckdb.Error) -> WarehouseWalError:
    wal = wal_path(path)
    aside = wal.with_name(wal.name + ".corrupt")
    return WarehouseWalError(
        f"DuckDB cannot replay the write-ahead log {wal}: {str(exc).splitlines()[0]}. "
        "Nothing was changed and the log is kept. To recover: stop every BAT process; move "
        f"the log aside (keep it for forensics): mv {wal} {aside}; then re-run "
        "`bat-pipeline ingest BAT_HOME/landing` - the writes that were only in the log are "
        "lost, and re-ingesting the landing files (the source of truth) loads the days they "
        "held again; finish with `bat-pipeline run` to rebuild features and model."
    )


def is_disk_full(exc: BaseException) -> bool:
    """Whether a DuckDB or OS error says the filesystem has no space left."""
    return "no space left on device" in str(exc).lower()


def disk_full_error(path: Path, exc: BaseException) -> WarehouseDiskFullError:
    free = shutil.disk_usage(path.parent).free
    return WarehouseDiskFullError(
        f"no space left on the device of {path} ({free / 2**20:.0f} MiB free): "
        f"{str(exc).splitlines()[0]}. The write was rolled back and the warehouse is as it "
        "was before it; free some space (or move BAT_HOME) and re-run the same command."
    )


def database_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The file behind a connection's current database."""
    return Path(fetch_one(con, query("database_path"))[0])


def check_free_space(path: Path, need_bytes: int) -> None:
    """Refuse to start a write when the warehouse's filesystem has less than `need_bytes`
    free (a pre-flight check: a write that fills the disk fails halfway)."""
    free = shutil.disk_usage(path.parent).free
    if free < need_bytes:
        raise WarehouseDiskFullError(
            f"only {free / 2**20:.0f} MiB free on the device of {path}; this write needs "
            f"about {need_bytes / 2**20:.0f} MiB (twice the input plus data.min_free_disk_mb). "
            "Nothing was written; free some space (or move BAT_HOME) and re-run."
        )


def _pin_utc(con: duckdb.DuckDBPyConnection) -> None:
    """Timestamps are UTC: without the ICU extension DuckDB already works in UTC; with it,
    the session time zone would be the machine's, so it is pinned."""
    with contextlib.suppress(duckdb.Error):  # no ICU extension: casts are UTC already
        con.execute("set TimeZone = 'UTC'")


def _open(path: Path, read_only: bool, retries: int, wait_s: float) -> duckdb.DuckDBPyConnection:
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            _pin_utc(con)
            return con
        except duckdb.Error as exc:
            if "replaying wal" in str(exc).lower():
                raise _wal_error(path, exc) from None
            if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc).lower():
                raise
            last = exc
            if attempt < retries:
                time.sleep(min(wait_s * 2**attempt, 5.0))
    raise WarehouseLockedError(
        f"DuckDB file {path} is locked by another process after {retries} retries: {last}. "
        "Close the other connection (notebook, BI tool, a second pipeline run) and re-run; "
        "pipeline writes are serialised by the 'duckdb_writer' pool."
    )


@contextmanager
def writer(
    path: Path, retries: int = 8, wait_s: float = 0.25
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection with the schema ensured; closed on exit, also after a failed
    write (a connection that hit a full disk is never reused)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only=False, retries=retries, wait_s=wait_s)
    try:
        con.execute(statement("create_tables"))
        yield con
    except (duckdb.Error, OSError) as exc:
        if is_disk_full(exc):
            raise disk_full_error(path, exc) from exc
        raise
    finally:
        with contextlib.suppress(duckdb.Error):  # closing after a failed write may fail too
            con.close()


@contextmanager
def reader(
    path: Path, retries: int = 8, wait_s: float = 0.25
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection (fails clearly if the warehouse does not exist yet)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no warehouse at {path}: ingest some events first (bat-pipeline ingest or demo)"
        )
    con = _open(path, read_only=True, retries=retries, wait_s=wait_s)
    try:
        yield con
    finally:
        con.close()


def fetch_one(
    con: duckdb.DuckDBPyConnection, text: str, params: dict | None = None
) -> tuple | None:
    """The first row of a query (the result is read to the end, as DuckDB 2 requires)."""
    rows = con.execute(text, params or {}).fetchall()
    return rows[0] if rows else None


#: tables and views built from sql/tables/ (stem = name)
TABLES = (
    "events",
    "user_session_days",
    "user_activity",
    "user_event_counts",
    "user_profile",
    "user_rfm",
)
#: always-current views rather than tables (`events` follows every new partition at once)
VIEWS = ("events",)
#: intermediates that live in the building connection only (user_activity and user_rfm are
#: rolled up from user_session_days; nothing reads it later)
TEMP_TABLES = ("user_session_days",)
#: tables copied from a registered frame (training_samples <- samples_frame, ...)
FRAME_TABLES = ("training_samples", "user_scores")


def replace_table(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> int:
    """(Re)build table (or view) `name` from `sql/tables/<name>.sql`; returns its row count."""
    if name not in (*TABLES, *FRAME_TABLES):
        raise ValueError(f"{name!r} is not a warehouse table built from sql/tables/ ({TABLES})")
    kind = "view" if name in VIEWS else "temp table" if name in TEMP_TABLES else "table"
    con.execute("begin transaction")
    try:
        con.execute("create or replace " + kind + " " + name + " as " + table(name), params or {})
        con.execute("commit")
    except duckdb.Error:
        con.execute("rollback")
        raise
    return int(fetch_one(con, query("table_row_count"), {"table": name})[0])
