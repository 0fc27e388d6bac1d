"""The feature tables, built in DuckDB from `sql/tables/`: per user and time bucket, per
event type, per user, and recency/frequency/monetary at as-of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from bat_pipeline.data.warehouse import replace_table


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
