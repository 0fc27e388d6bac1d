"""Running BAT's Dagster jobs from the command line, on the Dagster instance under BAT_HOME.

Runs launched here are ordinary Dagster runs: they show in the Dagster UI with their logs,
asset materializations and check results, exactly like runs launched from the UI.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping

import dagster as dg

from bat_pipeline.cli.dagster_home import bat_instance
from bat_pipeline.data.ingest import IngestResult
from bat_pipeline.definitions import defs
from bat_pipeline.defs.partitions import daily_partitions
from bat_pipeline.home import BatHome
from bat_pipeline.quality.suite import QualityReport


def instance_for(home: BatHome) -> dg.DagsterInstance:
    """The Dagster instance of BAT_HOME, its pools set up (see `bat_instance`)."""
    return bat_instance(home)


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


def record_cli_events(home: BatHome, events: list[dict], command: str) -> None:
    """Log `events` (see `defs.cli_records`) in one Dagster run of `cli_record_job`, for the
    days that are partitions of `raw_events`; nothing when none is."""
    valid = set(daily_partitions.get_partition_keys())
    events = [e for e in events if e["partition"] in valid]
    if not events:
        return
    config = {"events_json": json.dumps(events, default=str)}
    result = run_job(
        home,
        "cli_record_job",
        {"ops": {"record_cli_events": {"config": config}}},
        tags={"bat/command": command},
    )
    if not result.success:
        sys.stderr.write("warning: the Dagster UI could not be told about this command\n")


def record_cli_loads(
    home: BatHome, results: list[IngestResult], reports: Mapping[str, QualityReport]
) -> None:
    """Tell Dagster about days loaded by `bat-pipeline ingest`, each with the verdict of its
    quality check, so the UI shows them as materialized and checked."""
    events: list[dict] = []
    for result in results:
        if result.skipped or result.undated:
            continue
        events.append(
            {
                "kind": "materialization",
                "partition": result.partition_key,
                "description": "loaded by bat-pipeline ingest",
                "metadata": {
                    "rows_read": result.rows_read,
                    "rows_loaded": result.rows_loaded,
                    "rows_quarantined": result.rows_quarantined,
                    "source_file": result.path,
                },
            }
        )
        report = reports.get(result.partition_key)
        if report is not None:
            failed = ", ".join(o.name for o in report.failed())
            events.append(
                {
                    "kind": "check",
                    "partition": result.partition_key,
                    "passed": report.success,
                    "description": "checked by bat-pipeline ingest",
                    "metadata": {"rows": report.rows, "failed_expectations": failed or "none"},
                }
            )
    record_cli_events(home, events, "ingest")
