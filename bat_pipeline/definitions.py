"""The one Dagster `Definitions` of BAT: it only composes assets, checks, jobs and automation."""

import dagster as dg

from bat_pipeline.assets import evaluation, features, ingestion, monitoring, training
from bat_pipeline.checks import gates, quality
from bat_pipeline.jobs import drift_job, features_job, ingest_job, scoring_job, training_job
from bat_pipeline.resources import BatHomeResource, MlflowResource, WarehouseResource
from bat_pipeline.schedules import (
    daily_ingest_schedule,
    daily_scoring_schedule,
    weekly_retrain_schedule,
)
from bat_pipeline.sensors import drift_sensor, landing_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingestion, features, training, evaluation, monitoring]),
    asset_checks=dg.load_asset_checks_from_modules([quality, gates]),
    jobs=[ingest_job, features_job, training_job, scoring_job, drift_job],
    schedules=[daily_ingest_schedule, daily_scoring_schedule, weekly_retrain_schedule],
    sensors=[landing_sensor, drift_sensor],
    resources={
        "bat": BatHomeResource(),
        "warehouse": WarehouseResource(),
        "mlflow": MlflowResource(),
    },
)
