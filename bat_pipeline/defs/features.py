"""Feature-table assets, each a table in DuckDB built from `sql/tables/<name>.sql`."""

from dataclasses import dataclass
from datetime import date

import dagster as dg

from bat_pipeline.data.events import summarize_events
from bat_pipeline.defs.groups import DUCKDB_WRITER, FEATURES
from bat_pipeline.defs.ingestion import events
from bat_pipeline.defs.resources import WarehouseResource
from bat_pipeline.defs.run_config import FeaturesRunConfig, task_config
from bat_pipeline.features.samples import resolve_lookback_days
from bat_pipeline.features.tables import build_feature_tables


@dataclass(frozen=True)
class FeatureTablesInfo:
    """What downstream assets need to know about the feature tables they read."""

    bucket: str
    bucket_days: int
    as_of: date
    first_day: date
    event_types: list[str]
    rows: dict[str, int]


def parse_as_of(raw: str | None, default: date) -> date:
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise dg.Failure(description=f"as_of {raw!r} is not a date YYYY-MM-DD") from None


@dg.asset(
    deps=[events],
    group_name=FEATURES,
    pool=DUCKDB_WRITER,
    kinds={"duckdb"},
    description="Per user and time bucket (day or week): events, sessions, value, purchases and "
    "counts per event type; plus user_profile (first seen, device, channel) and user_rfm "
    "(recency/frequency/monetary at as-of).",
)
def user_activity(config: FeaturesRunConfig, warehouse: WarehouseResource) -> dg.Output:
    bucket_days = 7 if config.bucket == "week" else 1
    with warehouse.writer() as con:
        summary = summarize_events(con)
        if summary.rows == 0:
            raise dg.Failure(description="the events table is empty: ingest events first")
        as_of = parse_as_of(config.as_of, summary.default_as_of)
        window = task_config(config.bucket, lookback_days=config.lookback_days)
        rfm_days = resolve_lookback_days(window, summary.first_event.date(), as_of)
        tables = build_feature_tables(con, bucket_days, as_of, rfm_days)
    info = FeatureTablesInfo(
        bucket=config.bucket,
        bucket_days=bucket_days,
        as_of=as_of,
        first_day=summary.first_event.date(),
        event_types=summary.event_types,
        rows=tables.rows,
    )
    return dg.Output(
        info,
        metadata={
            **{f"rows_{name}": dg.IntMetadataValue(n) for name, n in tables.rows.items()},
            "bucket": dg.TextMetadataValue(config.bucket),
            "as_of": dg.TextMetadataValue(as_of.isoformat()),
            "users": dg.IntMetadataValue(summary.users),
        },
    )
