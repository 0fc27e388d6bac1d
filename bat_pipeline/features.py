"""Building the warehouse tables from `sql/`: validated events and the feature tables.

Each table is `create or replace table <name> as <sql/<name>.sql>` with bound parameters,
so a rebuild is idempotent and atomic (DuckDB swaps the table at commit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import duckdb

from bat_pipeline.sqlfiles import sql
from bat_pipeline.warehouse import fetch_one

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
    """(Re)build table (or view) `name` from `sql/<name>.sql`; returns its row count."""
    if name not in (*TABLES, *FRAME_TABLES):
        raise ValueError(f"{name!r} is not a warehouse table built from sql/ ({TABLES})")
    kind = "view" if name in VIEWS else "temp table" if name in TEMP_TABLES else "table"
    con.execute("begin transaction")
    try:
        con.execute("create or replace " + kind + " " + name + " as " + sql(name), params or {})
        con.execute("commit")
    except duckdb.Error:
        con.execute("rollback")
        raise
    return int(fetch_one(con, sql("table_row_count"), {"table": name})[0])


@dataclass(frozen=True)
class EventsSummary:
    """The validated events table at a glance."""

    rows: int
    users: int
    first_event: datetime | None
    last_event: datetime | None
    event_types: list[str]

    @property
    def default_as_of(self) -> date:
        """Midnight after the last event's day: every event so far is visible."""
        if self.last_event is None:
            raise ValueError("the events table is empty: ingest events first")
        return self.last_event.date() + timedelta(days=1)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["first_event"] = self.first_event.isoformat() if self.first_event else None
        out["last_event"] = self.last_event.isoformat() if self.last_event else None
        return out


def summarize_events(con: duckdb.DuckDBPyConnection) -> EventsSummary:
    rows, users, first, last = fetch_one(con, sql("events_summary"))
    types = [r[0] for r in con.execute(sql("event_vocabulary")).fetchall()]
    return EventsSummary(int(rows), int(users), first, last, types)


@dataclass(frozen=True)
class FeatureTables:
    """What the feature build produced: row counts per table and the settings used."""

    bucket_days: int
    as_of: date
    rows: dict[str, int]

    def to_dict(self) -> dict:
        return {"bucket_days": self.bucket_days, "as_of": self.as_of.isoformat(), "rows": self.rows}


def build_feature_tables(
    con: duckdb.DuckDBPyConnection, bucket_days: int, as_of: date, lookback_days: int
) -> FeatureTables:
    """user_activity (per user and bucket), user_event_counts (per user, bucket and event type),
    user_profile (per user), user_rfm (at as-of)."""
    replace_table(con, "user_session_days")
    try:
        rows = {
            "user_activity": replace_table(con, "user_activity", {"bucket_days": bucket_days}),
            "user_event_counts": replace_table(
                con, "user_event_counts", {"bucket_days": bucket_days}
            ),
            "user_profile": replace_table(con, "user_profile"),
            "user_rfm": replace_table(
                con, "user_rfm", {"as_of": as_of, "lookback_days": lookback_days}
            ),
        }
    finally:
        con.execute("drop table if exists user_session_days")
    return FeatureTables(bucket_days=bucket_days, as_of=as_of, rows=rows)
