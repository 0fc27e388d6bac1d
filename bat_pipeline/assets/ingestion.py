"""Ingestion assets: landing files -> `raw_events` (daily partitions) -> validated `events`."""

import dagster as dg

from bat_pipeline.assets.groups import DUCKDB_WRITER, INGESTION, QUALITY
from bat_pipeline.assets.metadata import reasons_table
from bat_pipeline.resources import BatHomeResource, WarehouseResource

#: first day a partition can exist; files of earlier days are loaded with the CLI instead
PARTITION_START = "2025-01-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, end_offset=1)


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=INGESTION,
    pool=DUCKDB_WRITER,
    kinds={"duckdb"},
    description="Events of one day as delivered (landing/events_<day>.*), cast to the schema; "
    "rows that cannot load are in `quarantine` with a reason.",
)
def raw_events(
    context: dg.AssetExecutionContext, bat: BatHomeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from bat_pipeline.ingest import IngestError, ingest_file, learn_vocabulary, totals
    from bat_pipeline.landing import LandingError, file_for, landing_files

    home, cfg = bat.home(), bat.config()
    results, problems = [], []
    found = landing_files(home.landing)
    with warehouse.writer() as con:
        learn_vocabulary(
            con, [p for k in context.partition_keys for p in found.get(k, [])], cfg.data
        )
        for key in context.partition_keys:
            try:
                results.append(ingest_file(con, file_for(home.landing, key), cfg.data))
            except (IngestError, LandingError) as exc:
                problems.append(str(exc))
                context.log.error(str(exc))
    if problems and (len(context.partition_keys) == 1 or not results):
        raise dg.Failure(description="\n".join(problems))
    sums = totals(results)
    return dg.MaterializeResult(
        metadata={
            "rows_read": dg.IntMetadataValue(sums["rows_read"]),
            "rows_loaded": dg.IntMetadataValue(sums["rows_loaded"]),
            "rows_quarantined": dg.IntMetadataValue(sums["rows_quarantined"]),
            "quarantine_reasons": dg.MarkdownMetadataValue(
                reasons_table(sums["quarantine_reasons"])
            ),
            "files": dg.IntMetadataValue(len(results)),
            "files_unchanged": dg.IntMetadataValue(sums["files_unchanged"]),
            "files_refused": dg.MarkdownMetadataValue(
                "\n".join(f"- {p}" for p in problems) or "none"
            ),
            "rows_conserved": dg.BoolMetadataValue(
                sums["rows_read"] == sums["rows_loaded"] + sums["rows_quarantined"]
            ),
        }
    )


@dg.asset(
    deps=[raw_events],
    group_name=QUALITY,
    pool=DUCKDB_WRITER,
    kinds={"duckdb"},
    description="Validated events: the loaded rows of every partition whose quality checks "
    "passed (view `events`); what features, training and drift read.",
)
def events(warehouse: WarehouseResource) -> dg.MaterializeResult:
    from bat_pipeline.features import replace_table, summarize_events

    with warehouse.writer() as con:
        replace_table(con, "events")
        summary = summarize_events(con)
    return dg.MaterializeResult(
        metadata={
            "rows": dg.IntMetadataValue(summary.rows),
            "users": dg.IntMetadataValue(summary.users),
            "first_event": dg.TextMetadataValue(str(summary.first_event)),
            "last_event": dg.TextMetadataValue(str(summary.last_event)),
            "event_types": dg.TextMetadataValue(", ".join(summary.event_types)),
        }
    )
