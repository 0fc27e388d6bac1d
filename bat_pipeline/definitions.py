"""The one Dagster `Definitions` of BAT: it only composes what `bat_pipeline.defs` holds."""

import dagster as dg

from bat_pipeline.defs import drift, evaluation, features, ingestion, scoring, training
from bat_pipeline.defs.cli_records import cli_record_job
from bat_pipeline.defs.jobs import drift_job, features_job, ingest_job, scoring_job, training_job
from bat_pipeline.defs.loggers import console_logger
from bat_pipeline.defs.resources import BatHomeResource, MlflowResource, WarehouseResource
from bat_pipeline.defs.schedules import (
    daily_ingest_schedule,
    daily_scoring_schedule,
    weekly_retrain_schedule,
)
from bat_pipeline.defs.sensors import drift_sensor, landing_sensor

ASSET_MODULES = [ingestion, features, training, evaluation, scoring, drift]

defs = dg.Definitions(
    assets=dg.load_assets_from_modules(ASSET_MODULES),
    asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
    jobs=[ingest_job, features_job, training_job, scoring_job, drift_job, cli_record_job],
    schedules=[daily_ingest_schedule, daily_scoring_schedule, weekly_retrain_schedule],
    sensors=[landing_sensor, drift_sensor],
    loggers={"console": console_logger},
    resources={
        "bat": BatHomeResource(),
        "warehouse": WarehouseResource(),
        "mlflow": MlflowResource(),
    },
)
