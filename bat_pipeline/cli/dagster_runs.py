"""Running BAT's Dagster jobs from the command line, on the Dagster instance under BAT_HOME.

Runs launched here are ordinary Dagster runs: they show in the Dagster UI with their logs,
asset materializations and check results, exactly like runs launched from the UI.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import dagster as dg

from bat_pipeline.cli.dagster_home import prepare_dagster_home
from bat_pipeline.data.ingest import IngestResult
from bat_pipeline.definitions import defs
from bat_pipeline.defs.partitions import daily_partitions
from bat_pipeline.home import BatHome


def instance_for(home: BatHome) -> dg.DagsterInstance:
    """The Dagster instance of BAT_HOME (DAGSTER_HOME = BAT_HOME/dagster)."""
    prepare_dagster_home(home)
    return dg.DagsterInstance.get()


@contextlib.contextmanager
def logs_to_stderr() -> Iterator[None]:
    """Keep stdout for the one JSON object of `--json`; Dagster and Lightning log to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def run_job(
    home: BatHome,
    job_name: str,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    partition_range: tuple[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Execute one job of the Definitions in this process; returns the Dagster result."""
    instance = instance_for(home)
    job = defs.resolve_job_def(job_name)
    run_tags = dict(tags or {})
    if partition_range is not None:
        start, end = partition_range
        if start == end:
            run_tags["dagster/partition"] = start
        else:
            run_tags["dagster/asset_partition_range_start"] = start
            run_tags["dagster/asset_partition_range_end"] = end
    # Dagster's step-by-step DEBUG events stay in the run's event log (Dagster UI); the
    # terminal gets INFO and up: the assets' own messages, warnings and failures
    console = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    with logs_to_stderr():
        return job.execute_in_process(
            run_config={**console, **(run_config or {})},
            instance=instance,
            raise_on_error=False,
            tags=run_tags,
        )


def record_cli_loads(home: BatHome, results: list[IngestResult]) -> int:
    """Tell Dagster about partitions loaded by `bat-pipeline ingest` (runless materializations),
    so the UI shows them as materialized instead of asking to re-run raw_events."""
    valid = set(daily_partitions.get_partition_keys())
    loaded = [r for r in results if not r.skipped and r.partition_key in valid]
    if not loaded:
        return 0
    instance = instance_for(home)
    for result in loaded:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key="raw_events",
                partition=result.partition_key,
                description="loaded by bat-pipeline ingest",
                metadata={
                    "rows_read": result.rows_read,
                    "rows_loaded": result.rows_loaded,
                    "rows_quarantined": result.rows_quarantined,
                    "source_file": result.path,
                },
            )
        )
    return len(loaded)
