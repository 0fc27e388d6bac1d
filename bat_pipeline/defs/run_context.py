"""What an asset needs to know about the run it is in: trigger and links back to Dagster."""

import os

import dagster as dg

DEFAULT_DAGSTER_UI_URL = "http://127.0.0.1:3000"
TRIGGER_TAG = "bat/trigger"


def trigger_of(context: dg.AssetExecutionContext) -> str:
    """manual / schedule / drift / sensor, from the run's tags."""
    tags = context.run.tags
    if TRIGGER_TAG in tags:
        return tags[TRIGGER_TAG]
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return "sensor"
    return "manual"


def dagster_run_url(run_id: str) -> str:
    base = os.environ.get("BAT_DAGSTER_UI_URL", DEFAULT_DAGSTER_UI_URL).rstrip("/")
    return f"{base}/runs/{run_id}"
