"""Blocking data-quality check on `raw_events`: the Great Expectations suite per partition.

A failed expectation fails the check, which stops `events` and everything downstream in the
same run, and marks the partition so the `events` table leaves it out until it is fixed.
"""

from collections import defaultdict
from datetime import UTC, datetime

import dagster as dg

from bat_pipeline.assets.groups import DUCKDB_WRITER
from bat_pipeline.assets.ingestion import raw_events
from bat_pipeline.assets.metadata import markdown_table
from bat_pipeline.resources import BatHomeResource, WarehouseResource


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
        return [k for k in raw_events.partitions_def.get_partition_keys() if start <= k <= end]
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
    from bat_pipeline.quality_gate import check_partitions

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
