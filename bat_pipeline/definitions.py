"""The one Dagster `Definitions` of BAT: it only composes assets, checks, jobs and automation."""

import dagster as dg

from bat_pipeline.assets import evaluation, features, ingestion, training
from bat_pipeline.checks import gates, quality
from bat_pipeline.jobs import features_job, ingest_job, training_job
from bat_pipeline.resources import BatHomeResource, MlflowResource, WarehouseResource

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingestion, features, training, evaluation]),
    asset_checks=dg.load_asset_checks_from_modules([quality, gates]),
    jobs=[ingest_job, features_job, training_job],
    resources={
        "bat": BatHomeResource(),
        "warehouse": WarehouseResource(),
        "mlflow": MlflowResource(),
    },
)
