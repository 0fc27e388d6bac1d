"""Opening the DuckDB warehouse: one writer at a time, readers read-only, bounded retries."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from bat_pipeline.sqlfiles import statement


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file's write lock and did not let go in time."""


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
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
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
    """A read-write connection with the schema ensured; closed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only=False, retries=retries, wait_s=wait_s)
    try:
        con.execute(statement("create_tables"))
        yield con
    finally:
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
    con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None
) -> tuple | None:
    """The first row of a query (the result is read to the end, as DuckDB 2 requires)."""
    rows = con.execute(query, params or {}).fetchall()
    return rows[0] if rows else None
