"""Jobs: named selections of assets that schedules, sensors, the CLI and the UI launch.

Every job runs its steps in one process: DuckDB writes are serialised anyway, and on a small
machine a process per step (Dagster's default) costs minutes of start-up per run.

The jobs whose ops take config get the values of the configuration in force when the code
location loads (BAT_HOME/bat.yaml, else the defaults) as their default run config: the
launchpad opens pre-filled with them, still editable. An invalid bat.yaml fails the load with
its file and key named. drift_job's only op config is the optional windows (the drift settings
are read from the config when it runs); ingest_job's ops take none.
"""

from __future__ import annotations

import dagster as dg

from bat_pipeline.defs.groups import EVALUATION, FEATURES, MONITORING, TRAINING
from bat_pipeline.defs.run_config import LOADED_CONFIG, job_defaults

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets("raw_events"),
    description="Load landing files into raw_events partitions and run the quality suite.",
    tags={"bat/job": "ingest"},
    executor_def=dg.in_process_executor,
)

training_job = dg.define_asset_job(
    "training_job",
    selection=(
        dg.AssetSelection.assets("events")
        | dg.AssetSelection.groups(FEATURES, TRAINING, EVALUATION)
        | dg.AssetSelection.assets("reference_profile")
    ),
    description="events -> features -> samples -> baseline + LSTM -> evaluation -> gates -> "
    "promotion -> scores.",
    tags={"bat/job": "training"},
    config=job_defaults(
        LOADED_CONFIG, ("user_activity", "training_samples", "candidate_model", "model_evaluation")
    ),
    executor_def=dg.in_process_executor,
)

features_job = dg.define_asset_job(
    "features_job",
    selection=dg.AssetSelection.assets("events", "user_activity"),
    description="Rebuild the validated events table and the feature tables.",
    tags={"bat/job": "features"},
    config=job_defaults(LOADED_CONFIG, ("user_activity",)),
    executor_def=dg.in_process_executor,
)

scoring_job = dg.define_asset_job(
    "scoring_job",
    selection=dg.AssetSelection.assets("events", "user_activity", "user_scores"),
    description="Rebuild events and features, then score every user with the champion.",
    tags={"bat/job": "scoring"},
    config=job_defaults(LOADED_CONFIG, ("user_activity",)),
    executor_def=dg.in_process_executor,
)

drift_job = dg.define_asset_job(
    "drift_job",
    selection=dg.AssetSelection.groups(MONITORING) - dg.AssetSelection.assets("reference_profile"),
    description="Drift report of the newest days against the champion's training data.",
    tags={"bat/job": "drift"},
    executor_def=dg.in_process_executor,
)
