"""What the command line did to `raw_events`, recorded as an ordinary Dagster run.

`bat-pipeline ingest` loads files and `bat-pipeline quality accept` accepts failed days
without running the `raw_events` asset; this job logs their outcome (a materialization per
loaded day, the verdict of its quality check, a person's acceptance) so that the Dagster UI
shows every day as materialized and checked, under a run tagged `bat/source: cli`. One run
per command keeps repeated verdicts of one day apart (Dagster stores one check result per run
and partition).
"""

import json

import dagster as dg


class CliRecordConfig(dg.Config):
    """The events to log, as JSON: a list of {kind: materialization | check, partition,
    passed, description, metadata}."""

    events_json: str


@dg.op(description="Log the days loaded or accepted from the command line.")
def record_cli_events(context: dg.OpExecutionContext, config: CliRecordConfig) -> None:
    for event in json.loads(config.events_json):
        if event["kind"] == "materialization":
            context.log_event(
                dg.AssetMaterialization(
                    asset_key="raw_events",
                    partition=event["partition"],
                    description=event["description"],
                    metadata=event["metadata"],
                )
            )
        else:
            context.log_event(
                dg.AssetCheckEvaluation(
                    asset_key=dg.AssetKey("raw_events"),
                    check_name="raw_events_quality",
                    passed=event["passed"],
                    partition=event["partition"],
                    description=event["description"],
                    metadata=event["metadata"],
                )
            )


@dg.job(
    description="Records what `bat-pipeline ingest` and `quality accept` did to raw_events "
    "(launched by the command line, not by hand).",
    tags={"bat/job": "cli_record", "bat/source": "cli"},
    executor_def=dg.in_process_executor,
)
def cli_record_job() -> None:
    record_cli_events()
