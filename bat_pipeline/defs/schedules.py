"""Schedules: daily ingest, daily features + scoring, weekly retraining (all times UTC).

After downtime none of them floods the queue. When the daemon comes back after missing ticks,
each schedule launches only its latest missed tick (these schedules carry no partition set, so
the scheduler does not catch up further; dagster.yaml bounds `max_catchup_runs` for any that
would). A schedule turned off and on again counts from the moment it is turned on: the ticks
of the time it was off are never launched (a backfill loads those days on purpose). A tick is
launched at most once: its run carries the tick time and a run key of its own (the partition
for the ingest, `scoring:<date>`, `weekly:<date>`), and the daemon looks for it first.
"""

import dagster as dg

from bat_pipeline.defs.jobs import ingest_job, scoring_job, training_job
from bat_pipeline.defs.resources import BatHomeResource, MlflowResource
from bat_pipeline.defs.run_config import scoring_run_config, training_run_config
from bat_pipeline.defs.run_context import TRIGGER_TAG
from bat_pipeline.lifecycle.serving import champion_task_params

daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    ingest_job,
    name="daily_ingest_schedule",
    hour_of_day=1,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 01:00 UTC: ingest the day's landing file and check its quality.",
)


@dg.schedule(
    job=scoring_job,
    cron_schedule="0 2 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 02:00 UTC: rebuild events and the feature tables with the "
    "bucket and lookback of the champion that scores (the config's while there is none), "
    "then score every user.",
)
def daily_scoring_schedule(
    context: dg.ScheduleEvaluationContext, bat: BatHomeResource, mlflow: MlflowResource
):
    # read at tick time: the config of now, and the champion of now (scoring refuses feature
    # tables of another bucket than the serving model's)
    return dg.RunRequest(
        run_key=f"scoring:{context.scheduled_execution_time.date().isoformat()}",
        run_config=scoring_run_config(
            bat.config(), champion_task_params(mlflow.store()), None, bat.config_file
        ),
        tags={TRIGGER_TAG: "schedule"},
    )


@dg.schedule(
    job=training_job,
    cron_schedule="0 3 * * 1",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every Monday at 03:00 UTC: retrain; the gates decide whether it is promoted.",
)
def weekly_retrain_schedule(context: dg.ScheduleEvaluationContext, bat: BatHomeResource):
    return dg.RunRequest(
        run_key=f"weekly:{context.scheduled_execution_time.date().isoformat()}",
        run_config=training_run_config(bat.config(), None, bat.config_file),
        tags={TRIGGER_TAG: "schedule"},
    )
