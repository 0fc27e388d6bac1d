"""The feature tables, built in DuckDB from `sql/tables/`: per user and time bucket, per
event type, per user, and recency/frequency/monetary at as-of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from bat_pipeline.data.sqlfiles import query, statement
from bat_pipeline.data.warehouse import fetch_one, replace_table


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
    con.execute(statement("record_feature_build"), {"bucket_days": bucket_days, "as_of": as_of})
    return FeatureTables(bucket_days=bucket_days, as_of=as_of, rows=rows)


class FeatureMismatchError(RuntimeError):
    """The feature tables were built with other settings than a model needs; says how to fix."""


def check_tables_fit(con: duckdb.DuckDBPyConnection, bucket_days: int, who: str) -> None:
    """Refuse feature tables built with another bucket than `bucket_days` (what `who`, e.g.
    "champion version 3", was trained on): its inputs would be silently wrong."""
    built = fetch_one(con, query("feature_build"))
    if built is None or int(built[0]) == bucket_days:
        return  # tables built before the settings were recorded are taken as they are
    names = {1: "day", 7: "week"}
    raise FeatureMismatchError(
        f"the feature tables are built with {names.get(int(built[0]), built[0])} buckets but "
        f"{who} was trained on {names.get(bucket_days, bucket_days)} buckets; rebuild them with "
        f"task.bucket: {names.get(bucket_days, bucket_days)} (bat-pipeline run, or the "
        "features job with that bucket) before scoring"
    )
