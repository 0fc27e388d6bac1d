"""Ingestion assets: landing files -> `raw_events` (daily partitions) -> validated `events`.

The Great Expectations suite is a blocking check on `raw_events`: a failed expectation stops
`events` and everything downstream in the same run, and marks the partition so that `events`
leaves it out until it is fixed.
"""

from collections import defaultdict
from datetime import UTC, datetime

import dagster as dg

from bat_pipeline.data.events import summarize_events
from bat_pipeline.data.landing import LandingError, file_for
from bat_pipeline.data.loads import load_files, totals
from bat_pipeline.data.warehouse import replace_table
from bat_pipeline.defs.groups import DUCKDB_WRITER, INGESTION, QUALITY
from bat_pipeline.defs.metadata import markdown_table, reasons_table
from bat_pipeline.defs.partitions import daily_partitions
from bat_pipeline.defs.resources import BatHomeResource, WarehouseResource
from bat_pipeline.quality.verdicts import check_partitions


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
    home, cfg = bat.home(), bat.config()
    files, problems = [], []
    for key in context.partition_keys:
        try:
            files.append(file_for(home.landing, key))
        except LandingError as exc:
            problems.append(str(exc))
    with warehouse.writer() as con:
        batch = load_files(con, files, cfg.data, datetime.now(UTC))
    problems += batch.errors
    for problem in problems:
        context.log.error(problem)
    if problems and (len(context.partition_keys) == 1 or not batch.results):
        raise dg.Failure(description="\n".join(problems))
    sums = totals(batch.results)
    return dg.MaterializeResult(
        metadata={
            "rows_read": dg.IntMetadataValue(sums["rows_read"]),
            "rows_loaded": dg.IntMetadataValue(sums["rows_loaded"]),
            "rows_quarantined": dg.IntMetadataValue(sums["rows_quarantined"]),
            "quarantine_reasons": dg.MarkdownMetadataValue(
                reasons_table(sums["quarantine_reasons"])
            ),
            "files": dg.IntMetadataValue(len(batch.results)),
            "files_unchanged": dg.IntMetadataValue(sums["files_unchanged"]),
            "files_refused": dg.MarkdownMetadataValue(
                "\n".join(f"- {p}" for p in problems) or "none"
            ),
            "rows_conserved": dg.BoolMetadataValue(
                sums["rows_read"] == sums["rows_loaded"] + sums["rows_quarantined"]
            ),
        }
    )


def run_partition_keys(context: dg.AssetCheckExecutionContext) -> list[str]:
    """The partitions this run materialised (the check runs in the same run as raw_events)."""
    tags = context.run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start, end = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    if start and end:
        return [k for k in daily_partitions.get_partition_keys() if start <= k <= end]
    return []


@dg.asset_check(
    asset=raw_events,
    blocking=True,
    pool=DUCKDB_WRITER,
    description="Great Expectations suite on each loaded partition: required columns and types, "
    "non-null keys, event types in the vocabulary, value >= 0, no future timestamps, row count "
    ">= 1, duplicate share, volume against the trailing days.",
)
def raw_events_quality(
    context: dg.AssetCheckExecutionContext, bat: BatHomeResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    keys = run_partition_keys(context)
    home, cfg = bat.home(), bat.config()
    with warehouse.writer() as con:
        reports = check_partitions(con, keys, cfg.data, home, now=datetime.now(UTC))
    failed = {key: report.failed() for key, report in reports.items() if not report.success}
    by_expectation: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for report in reports.values():
        for outcome in report.failed():
            by_expectation[outcome.name][0] += 1
            by_expectation[outcome.name][1] += outcome.unexpected_count
    details = [
        (key, o.name, o.unexpected_count, o.detail) for key, outs in failed.items() for o in outs
    ]
    docs = next((r.docs_path for r in reports.values() if r.docs_path), None)
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "partitions_checked": dg.IntMetadataValue(len(reports)),
            "partitions_failed": dg.IntMetadataValue(len(failed)),
            "expectations_per_partition": dg.IntMetadataValue(
                max((r.evaluated for r in reports.values()), default=0)
            ),
            "failed_expectations": dg.MarkdownMetadataValue(
                markdown_table(
                    ["expectation", "partitions", "rows"],
                    [(k, v[0], v[1]) for k, v in sorted(by_expectation.items())],
                )
                if by_expectation
                else "all expectations passed"
            ),
            "failures": dg.MarkdownMetadataValue(
                markdown_table(["partition", "expectation", "rows", "detail"], details[:50])
                if details
                else "none"
            ),
            "data_docs": dg.PathMetadataValue(str(docs) if docs else ""),
        },
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
