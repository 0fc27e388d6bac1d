"""What a foreign event log holds, read without loading it, and the `data:` config that maps it.

The files are read exactly as ingest reads them (`sql/queries/raw_csv.sql`, `raw_parquet.sql`)
into an in-memory DuckDB; nothing is written anywhere. Column types and roles are guessed from a
sample of rows (`source_mapping`); the counts per day and per event name are exact and come
from a dry run of the load: ingest's own staging and checks (`sql/queries/staged_events.sql`)
with the suggested mapping, so the rows it would quarantine are counted by reason too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bat_pipeline.config import DataConfig
from bat_pipeline.contract import REQUIRED_COLUMNS
from bat_pipeline.data.ingest import (
    _map_params,
    _partition_window,
    _stage,
)
from bat_pipeline.data.source_files import (
    IngestError,
    check_readable,
    partition_key_for,
    read_raw,
    source_columns,
)
from bat_pipeline.data.source_mapping import (
    DEFAULT_TARGET,
    ColumnProfile,
    config_columns,
    config_format,
    format_label,
    guess_roles,
    map_event_names,
    suggested_yaml,
    target_missing,
)
from bat_pipeline.data.sqlfiles import query
from bat_pipeline.data.warehouse import _pin_utc, fetch_one

#: rows sampled, in all, to guess column types and roles (at least 1,000 from each file)
SAMPLE_ROWS = 20_000
#: epoch unit -> the numbers that are times from 1990 to 2100 in that unit
EPOCH_RANGES = {"s": (631_152_000, 4_102_444_800), "ms": (631_152_000_000, 4_102_444_800_000)}
#: a column is a time when at least this share of its values parse under one format
MIN_PARSED_SHARE = 0.9
#: strptime formats tried on values that are not ISO 8601; on a tie the first listed wins
STRPTIME_FORMATS = (
    *(
        f"{date} {time}".strip()
        for date in ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%d %b %Y")
        for time in ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "")
    ),
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)


@dataclass
class Inspection:
    """What a set of event files holds, and the `data:` config suggested for them."""

    files: list[str]
    rows: int  # rows read, malformed CSV lines included
    columns: list[ColumnProfile]
    roles: dict[str, str]  # contract column -> column in the files
    timestamp_format: str | None  # as data.timestamp_format: None = ISO 8601
    event_map: dict[str, str] = field(default_factory=dict)  # source name -> canonical name
    events: dict[str, int] = field(default_factory=dict)  # source event name -> rows
    rows_per_day: dict[str, int] = field(default_factory=dict)  # UTC day -> rows
    time_range: list[str] | None = None  # first and last event time, UTC
    quarantine: dict[str, int] = field(default_factory=dict)  # reason -> rows, in the dry run
    notes: list[str] = field(default_factory=list)

    def suggested_config(self) -> dict:
        """The suggested `data:` section as a mapping."""
        return {
            "data": {
                "columns": config_columns(self.roles),
                "timestamp_format": self.timestamp_format,
                "event_map": self.event_map,
            }
        }

    def suggested_yaml(self) -> str:
        return suggested_yaml(self.roles, self.timestamp_format, self.event_map, self.events)

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "days": len(self.rows_per_day),
            "rows_loadable": self.rows - sum(self.quarantine.values()),
            "suggested_config": self.suggested_config(),
            "suggested_yaml": self.suggested_yaml(),
        }


def inspect_files(paths: list[Path], now: datetime | None = None) -> Inspection:
    """Profile the files and suggest their mapping. IngestError names a file that cannot be
    read (missing, empty, neither CSV nor Parquet)."""
    paths = [Path(p) for p in paths]
    now = now or datetime.now(UTC)
    if now.tzinfo is not None:  # compare in naive UTC, like the staged event times
        now = now.astimezone(UTC).replace(tzinfo=None)
    con = duckdb.connect()
    try:
        _pin_utc(con)
        tables, malformed, source_types = _read_files(con, paths)
        columns = _profile_sample(con, tables, source_types)
        roles, notes = guess_roles(columns)
        time_column = next((c for c in columns if c.name == roles.get("event_time")), None)
        result = Inspection(
            files=[str(p) for p in paths],
            rows=sum(_count(con, t) for t in tables) + malformed,
            columns=columns,
            roles=roles,
            timestamp_format=config_format(time_column.time_format if time_column else None),
            notes=notes,
        )
        if malformed:
            result.quarantine["malformed_line"] = malformed
        if all(r in roles for r in REQUIRED_COLUMNS):
            _dry_run(con, paths, tables, result, now)
        result.notes += _header_notes(con, paths, tables) + _notes(result, time_column)
        return result
    finally:
        con.close()


def _read_files(
    con: duckdb.DuckDBPyConnection, paths: list[Path]
) -> tuple[list[str], int, dict[str, str]]:
    """Each file as a table of text columns (`file_0`, ...), the CSV reader's malformed lines
    over all files, and each column's type in the first file that has it."""
    tables, malformed, types = [], 0, {}
    for i, path in enumerate(paths):
        kind = check_readable(path)
        raw = read_raw(con, path, kind)
        try:
            raw.select(
                *[duckdb.ColumnExpression(c).cast("VARCHAR").alias(c) for c in raw.columns]
            ).create(f"file_{i}")
        except duckdb.Error as exc:
            what = "CSV" if kind == "csv" else "Parquet"
            first = str(exc).strip().splitlines()[0]
            raise IngestError(f"{path}: cannot be read as {what}: {first}") from None
        bad = int(fetch_one(con, query("malformed_count"))[0]) if kind == "csv" else 0
        if bad == 0 and _count(con, f"file_{i}") == 0:
            raise IngestError(f"{path}: the file has a header but no rows; nothing to inspect")
        malformed += bad
        for name, dtype in zip(raw.columns, raw.types, strict=True):
            types.setdefault(name, str(dtype))
        tables.append(f"file_{i}")
    return tables, malformed, types


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.table(table).aggregate("count(*)").fetchall()[0][0])


def _profile_sample(
    con: duckdb.DuckDBPyConnection, tables: list[str], source_types: dict[str, str]
) -> list[ColumnProfile]:
    """Profile every column over a reservoir sample of each file, stacked by column name."""
    per_file = max(1_000, SAMPLE_ROWS // len(tables))
    parts = [
        f"select * from {t} using sample reservoir({per_file} rows) repeatable (7)" for t in tables
    ]
    con.execute("create table sample as " + " union all by name ".join(parts))
    return [_profile(con, name, source_types[name]) for name in con.table("sample").columns]


def _profile(con: duckdb.DuckDBPyConnection, name: str, source_type: str) -> ColumnProfile:
    """The column's kind and time format: an epoch unit when every value is a number in that
    unit's range, else the format (ISO 8601 or strptime) that parses the most values."""
    quoted = '"' + name.replace('"', '""') + '"'
    values = con.table("sample").select(duckdb.SQLExpression(f"nullif(trim({quoted}), '') as v"))
    rows, n, distinct, n_int, n_num, lo, hi, n_iso, examples = values.aggregate(
        "count(*), count(v), count(distinct v), "
        "count(*) filter (regexp_full_match(v, '[+-]?[0-9]+')), count(try_cast(v as double)), "
        "min(try_cast(v as double)), max(try_cast(v as double)), "
        "count(try_cast(try_cast(v as timestamptz) as timestamp)), "
        "(list(distinct v) filter (where v is not null))[1:3]"
    ).fetchall()[0]
    kind = "empty" if n == 0 else "text"
    fmt, parsed, also = None, 0.0, []
    if n and n_num == n:
        kind = "integer" if n_int == n else "number"
        fmt = next((u for u, (a, b) in EPOCH_RANGES.items() if a <= lo and hi < b), None)
        parsed = 1.0 if fmt else 0.0
    if n and fmt is None:
        shares = {"iso": n_iso / n} | _strptime_shares(values, n)
        best = max(shares.values())
        if best >= MIN_PARSED_SHARE:
            fmt, parsed = next(f for f, s in shares.items() if s == best), best
            also = [f for f, s in shares.items() if s == best and f != fmt]
            kind = "timestamp" if kind == "text" else kind
    return ColumnProfile(
        # ingest matches header names with surrounding blanks and a byte-order mark removed
        name=name.strip().lstrip("\ufeff"),
        kind=kind,
        time_format=fmt,
        filled=round(n / rows, 4) if rows else 0.0,
        distinct=int(distinct),
        examples=list(examples or []),
        source_type=source_type,
        time_parsed=round(parsed, 4),
        time_also=also,
    )


def _strptime_shares(values: duckdb.DuckDBPyRelation, n: int) -> dict[str, float]:
    counts = values.aggregate(
        ", ".join(f"count(try_strptime(v, '{f}'))" for f in STRPTIME_FORMATS)
    ).fetchall()[0]
    return {f: c / n for f, c in zip(STRPTIME_FORMATS, counts, strict=True)}


def _dry_run(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    tables: list[str],
    result: Inspection,
    now: datetime,
) -> None:
    """Stage every file as ingest would with the suggested mapping: count its source event
    names, then (names mapped) its rows per UTC day, time range and quarantine reasons."""
    cfg = DataConfig(columns=config_columns(result.roles), timestamp_format=result.timestamp_format)
    events: Counter[str] = Counter()
    for path, table in zip(paths, tables, strict=True):
        _stage(con, con.table(table), source_columns(path, con.table(table).columns, cfg))
        names = con.table("raw_staging").select(
            duckdb.SQLExpression("nullif(trim(event_type), '') as name")
        )
        events.update(dict(names.filter("name is not null").aggregate("name, count(*)").fetchall()))
    result.events = dict(events.most_common())
    result.event_map = map_event_names(list(result.events))
    cfg = cfg.model_copy(update={"event_map": result.event_map})
    days: Counter[str] = Counter()
    reasons: Counter[str] = Counter(result.quarantine)
    first, last = [], []
    for path, table in zip(paths, tables, strict=True):
        _stage(con, con.table(table), source_columns(path, con.table(table).columns, cfg))
        # a file with a date in its name holds that day only, as ingest checks
        start, end = _partition_window(partition_key_for(path))
        params = {
            "ts_format": cfg.timestamp_format,
            "now": now + timedelta(minutes=cfg.future_skew_minutes),
            "window_start": start,
            "window_end": end,
            "vocabulary": sorted({cfg.event_map.get(n, n) for n in events}) or [""],
            **_map_params(cfg),
        }
        con.execute("create or replace table staged as " + query("staged_events"), params)
        staged = con.table("staged")
        timed = staged.filter("event_time is not null")
        day = "strftime(event_time, '%Y-%m-%d')"
        days.update(dict(timed.aggregate(f"{day}, count(*)", day).fetchall()))
        rejected = staged.filter("reject_reason is not null")
        reasons.update(dict(rejected.aggregate("reject_reason, count(*)").fetchall()))
        lo, hi = timed.aggregate("min(event_time), max(event_time)").fetchall()[0]
        first += [lo] if lo else []
        last += [hi] if hi else []
    con.execute("drop view if exists raw_staging")
    result.rows_per_day = dict(sorted(days.items()))
    result.quarantine = dict(reasons.most_common())
    if first:
        result.time_range = [min(first).isoformat(), max(last).isoformat()]


def _header_notes(
    con: duckdb.DuckDBPyConnection, paths: list[Path], tables: list[str]
) -> list[str]:
    """A note for each file that lacks a column another file has."""
    headers = [set(con.table(t).columns) for t in tables]
    every = set().union(*headers)
    return [
        f"{path}: has no column(s) {sorted(every - header)} that other files have"
        for path, header in zip(paths, headers, strict=True)
        if every - header
    ]


def _notes(result: Inspection, time_column: ColumnProfile | None) -> list[str]:
    """What the user should check before pasting the suggestion."""
    notes = []
    if time_column is not None and time_column.time_parsed < 1:
        notes.append(
            f"only {time_column.time_parsed:.1%} of the sampled {time_column.name!r} values "
            f"parse as {format_label(time_column.time_format)}"
        )
    if time_column is not None and time_column.time_also:
        notes.append(
            f"{time_column.name!r} values parse as {time_column.time_format!r} and as "
            f"{time_column.time_also}: check the day/month order and set "
            "data.timestamp_format accordingly"
        )
    if target_missing(result.events, result.event_map):
        notes.append(
            f"no event maps to {DEFAULT_TARGET!r}, the default task.target_event: map the "
            f"event to predict to {DEFAULT_TARGET} in data.event_map, or set task.target_event"
        )
    rejected = sum(result.quarantine.values())
    if rejected:
        reasons = ", ".join(f"{r} {n:,}" for r, n in result.quarantine.items())
        notes.append(
            f"with this mapping {rejected:,} of {result.rows:,} rows would be quarantined "
            f"({reasons})"
        )
    return notes
