"""Loading event files into the warehouse: explicit casts, quarantine, atomic partition swap.

One file is one partition (its key: the `YYYY-MM-DD` in the file name, else the file stem).
Every row read lands in `raw_events` or in `quarantine` with a reason, so
`rows_read == rows_loaded + rows_quarantined` always holds; the partition is replaced inside
one transaction, and a file whose content hash was already loaded is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bat_pipeline.config import DataConfig
from bat_pipeline.contract import CANONICAL_COLUMNS, STATIC_COLUMNS
from bat_pipeline.data.source_files import (
    IngestError,
    check_readable,
    file_sha256,
    partition_key_for,
    read_raw,
    source_columns,
)
from bat_pipeline.data.sqlfiles import query, statement
from bat_pipeline.data.warehouse import database_path, disk_full_error, fetch_one, is_disk_full


@dataclass(frozen=True)
class IngestResult:
    """The outcome of loading one file into its partition."""

    path: str
    partition_key: str
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    #: the rows of an export with no usable event day: quarantined only, not a day of data
    undated: bool = False
    #: the partition held other content before this load
    replaced: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _partition_window(partition_key: str) -> tuple[datetime | None, datetime | None]:
    try:
        start = datetime.strptime(partition_key, "%Y-%m-%d")
    except ValueError:
        return None, None
    return start, start + timedelta(days=1)


def _stage(
    con: duckdb.DuckDBPyConnection, raw: duckdb.DuckDBPyRelation, found: dict[str, str]
) -> None:
    """Project the raw file onto canonical text columns + `extra` JSON as view raw_staging."""
    exprs = [
        duckdb.SQLExpression("row_number() over ()").alias("source_row"),
    ]
    for canonical in (*CANONICAL_COLUMNS, *STATIC_COLUMNS):
        if canonical in found:
            exprs.append(duckdb.ColumnExpression(found[canonical]).cast("VARCHAR").alias(canonical))
        else:
            exprs.append(duckdb.ConstantExpression(None).cast("VARCHAR").alias(canonical))
    used = set(found.values())
    others = [c for c in raw.columns if c not in used]
    if others:
        pairs: list[duckdb.Expression] = []
        for name in others:
            pairs += [duckdb.ConstantExpression(name), duckdb.ColumnExpression(name)]
        exprs.append(duckdb.FunctionExpression("json_object", *pairs).alias("extra"))
    else:
        exprs.append(duckdb.ConstantExpression(None).cast("JSON").alias("extra"))
    raw.select(*exprs).create_view("raw_staging", replace=True)


def _vocabulary(con: duckdb.DuckDBPyConnection, cfg: DataConfig, now: datetime) -> list[str]:
    """The configured vocabulary, else the stored one, else the one learned from this file."""
    if cfg.event_types:
        con.execute(statement("insert_vocabulary"), {"event_types": cfg.event_types, "now": now})
        return list(cfg.event_types)
    stored = [row[0] for row in con.execute(query("event_vocabulary")).fetchall()]
    if stored:
        return stored
    learned = con.execute(query("staged_event_types"), _map_params(cfg)).fetchall()
    types = [row[0] for row in learned]
    if types:
        con.execute(statement("insert_vocabulary"), {"event_types": types, "now": now})
    return types


def learn_vocabulary(
    con: duckdb.DuckDBPyConnection, paths: list[Path], cfg: DataConfig, now: datetime | None = None
) -> list[str]:
    """On the first load (no configured or stored vocabulary), learn it from every file of that
    load, not just the first file (a quiet first day need not show every event type).
    Unreadable files are skipped here; ingesting them reports the problem."""
    if cfg.event_types or con.execute(query("event_vocabulary")).fetchall():
        return []
    types: set[str] = set()
    for path in paths:
        try:
            kind = check_readable(Path(path))
            raw = read_raw(con, Path(path), kind)
            _stage(con, raw, source_columns(Path(path), raw.columns, cfg))
            types.update(
                r[0] for r in con.execute(query("staged_event_types"), _map_params(cfg)).fetchall()
            )
        except (IngestError, duckdb.Error):
            continue
        finally:
            con.execute("drop view if exists raw_staging")
    if types:
        stamp = (now or datetime.now(UTC)).replace(tzinfo=None)
        con.execute(statement("insert_vocabulary"), {"event_types": sorted(types), "now": stamp})
    return sorted(types)


def _map_params(cfg: DataConfig) -> dict[str, list[str]]:
    # DuckDB needs a typed list even when there is nothing to map; '' never matches a trimmed name.
    return {
        "map_from": list(cfg.event_map) or [""],
        "map_to": list(cfg.event_map.values()) or [""],
    }


def _reasons(con: duckdb.DuckDBPyConnection, partition_key: str) -> dict[str, int]:
    rows = con.execute(query("quarantine_counts"), {"partition_key": partition_key}).fetchall()
    return {reason: int(n) for reason, n in rows}


@contextmanager
def load_transaction(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[None]:
    """One transaction for a file's load: committed whole or rolled back whole, a DuckDB
    error reported as an IngestError naming the file; the staging view dropped after."""
    try:
        con.execute("begin transaction")
        yield
        con.execute("commit")
    except duckdb.Error as exc:
        con.execute("rollback")
        if is_disk_full(exc):  # not this file's fault: the whole batch stops
            raise disk_full_error(database_path(con), exc) from None
        raise IngestError(f"{path}: cannot be loaded: {exc}") from None
    except IngestError:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop view if exists raw_staging")


def staging_params(
    con: duckdb.DuckDBPyConnection,
    cfg: DataConfig,
    now: datetime,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> dict:
    """The parameters of sql/queries/staged_events.sql (the vocabulary stored if new)."""
    return {
        "ts_format": cfg.timestamp_format,
        "now": now + timedelta(minutes=cfg.future_skew_minutes),
        "window_start": window[0],
        "window_end": window[1],
        "vocabulary": _vocabulary(con, cfg, now) or [""],
        **_map_params(cfg),
    }


def naive_utc(now: datetime | None) -> datetime:
    """`now` (default: the current time) as naive UTC, like the stored event times; a naive
    `now` is taken as UTC."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now


def unchanged_load(
    con: duckdb.DuckDBPyConnection, path: Path, key: str, digest: str
) -> tuple[tuple | None, IngestResult | None]:
    """(the last load of partition `key`, a `skipped` result when it holds `digest` already)."""
    previous = fetch_one(con, query("ingest_log_entry"), {"partition_key": key})
    if previous is None or previous[2] != digest:
        return previous, None
    return previous, IngestResult(
        path=str(path),
        partition_key=key,
        sha256=digest,
        rows_read=int(previous[3]),
        rows_loaded=int(previous[4]),
        rows_quarantined=int(previous[5]),
        quarantine_reasons=_reasons(con, key),
        skipped=True,
    )


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    cfg: DataConfig,
    *,
    now: datetime | None = None,
    partition_key: str | None = None,
) -> IngestResult:
    """Load one file into its partition (atomically), quarantining the rows that cannot load."""
    path = Path(path)
    kind = check_readable(path)
    key = partition_key or partition_key_for(path)
    digest = file_sha256(path)
    previous, unchanged = unchanged_load(con, path, key, digest)
    if unchanged is not None:
        return unchanged

    now = naive_utc(now)
    raw = read_raw(con, path, kind)
    found = source_columns(path, raw.columns, cfg)
    _stage(con, raw, found)
    with load_transaction(con, path):
        params = staging_params(con, cfg, now, window=_partition_window(key))
        con.execute("create or replace temp table staged as " + query("staged_events"), params)
        result = _swap_partition(con, path, key, digest, now, kind, cfg)
    return replace(result, replaced=previous is not None)


def _swap_partition(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    key: str,
    digest: str,
    now: datetime,
    kind: str,
    cfg: DataConfig,
) -> IngestResult:
    staged_rows = fetch_one(con, query("staged_counts"))
    total, loaded = int(staged_rows[0]), int(staged_rows[1])
    malformed = int(fetch_one(con, query("malformed_count"))[0]) if kind == "csv" else 0
    rows_read = total + malformed
    if rows_read == 0:
        raise IngestError(f"{path}: the file has a header but no rows; nothing to load")
    check_reject_share(con, path, cfg, malformed=malformed, rows_read=rows_read)
    return swap_staged(
        con,
        path,
        key,
        digest,
        now,
        rows_read=rows_read,
        loaded=loaded,
        with_malformed=malformed > 0,
    )


def check_reject_share(
    con: duckdb.DuckDBPyConnection, path: Path, cfg: DataConfig, *, malformed: int, rows_read: int
) -> None:
    """Refuse the whole file when the rows it delivers cannot be trusted, writing nothing:

    - a quoted value that is never closed: the reader cannot tell where the rows after it
      end, so none of them can be counted, loaded or quarantined one by one;
    - a share of malformed lines, of rows whose time or value does not parse (table
      `staged`), or of rows later than now + data.future_skew_minutes, over
      data.max_reject_share: a file in another format, or from a source whose clock or time
      zone is wrong, must not replace a good partition with quarantine."""
    if malformed:
        open_quote = fetch_one(con, query("unterminated_quote"))
        if open_quote is not None:
            raise IngestError(
                f"{path}: line {open_quote[0]} opens a quoted value that is never closed "
                f"({open_quote[1]}); the rows after it cannot be told apart, so the file is "
                "refused whole and nothing was loaded. Fix the quoting of that line and "
                "deliver the file again."
            )
    if malformed / rows_read > cfg.max_reject_share:
        first = fetch_one(con, query("malformed_first"))
        raise IngestError(
            f"{path}: {malformed} of {rows_read} lines are malformed "
            f"(over data.max_reject_share={cfg.max_reject_share}); first at line {first[0]}: "
            f"{first[1]}. Fix the delimiter, quoting or encoding (UTF-8) of the file and "
            "deliver it again."
        )
    failed, row, reason, text = fetch_one(con, query("cast_failures"))
    if failed / rows_read > cfg.max_reject_share:
        raise IngestError(
            f"{path}: {failed} of {rows_read} rows have an event time or value that does not "
            f"parse (over data.max_reject_share={cfg.max_reject_share}); first at row {row}: "
            f"{reason} {text!r}. Nothing was loaded. Check data.timestamp_format (now "
            f"{cfg.timestamp_format or 'ISO 8601'}) and data.columns against the file "
            "(`bat-pipeline inspect FILE` suggests them), or fix the file."
        )
    future, row, text = fetch_one(con, query("future_rows"))
    if future / rows_read > cfg.max_reject_share:
        raise IngestError(
            f"{path}: {future} of {rows_read} rows have an event time in the future (later "
            f"than now + data.future_skew_minutes={cfg.future_skew_minutes}; over "
            f"data.max_reject_share={cfg.max_reject_share}); first at row {row}: {text!r}. "
            "The clock or time zone of the source is likely wrong. Nothing was loaded: fix "
            "the event times (UTC, or with their offset) and deliver the file again."
        )


def swap_staged(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    key: str,
    digest: str,
    now: datetime,
    *,
    rows_read: int,
    loaded: int,
    with_malformed: bool,
) -> IngestResult:
    """Replace partition `key` with the rows of temp table `staged` (and the CSV reader's
    malformed lines when `with_malformed`), and log the load; inside the caller's transaction."""
    base = {"partition_key": key, "source_file": str(path), "ingested_at": now}
    con.execute(statement("delete_partition"), {"partition_key": key})
    con.execute(statement("delete_partition_quarantine"), {"partition_key": key})
    con.execute(statement("insert_loaded"), base)
    con.execute(statement("insert_rejected"), base)
    if with_malformed:
        con.execute(statement("insert_malformed"), base)
    quarantined = rows_read - loaded
    con.execute(
        statement("upsert_ingest_log"),
        {
            **base,
            "sha256": digest,
            "rows_read": rows_read,
            "rows_loaded": loaded,
            "rows_quarantined": quarantined,
        },
    )
    return IngestResult(
        path=str(path),
        partition_key=key,
        sha256=digest,
        rows_read=rows_read,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        quarantine_reasons=_reasons(con, key),
    )
