"""Jobs: named selections of assets that schedules, sensors, the CLI and the UI launch."""

from __future__ import annotations

import dagster as dg

from bat_pipeline.assets.groups import EVALUATION, FEATURES, TRAINING

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets("raw_events"),
    description="Load landing files into raw_events partitions and run the quality suite.",
    tags={"bat/job": "ingest"},
)

training_job = dg.define_asset_job(
    "training_job",
    selection=(
        dg.AssetSelection.assets("events")
        | dg.AssetSelection.groups(FEATURES, TRAINING, EVALUATION)
    ),
    description="events -> features -> samples -> baseline + LSTM -> evaluation -> gates -> "
    "promotion -> scores.",
    tags={"bat/job": "training"},
)

features_job = dg.define_asset_job(
    "features_job",
    selection=dg.AssetSelection.assets("events", "user_activity"),
    description="Rebuild the validated events table and the feature tables.",
    tags={"bat/job": "features"},
)
