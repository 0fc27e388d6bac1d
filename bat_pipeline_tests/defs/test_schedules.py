"""Schedules after downtime: missed ticks never flood the queue and never launch a run twice.

Dagster's rules, as the daemon applies them with the project's dagster.yaml:
- daemon down while a schedule is running: at restart only the latest missed tick of each
  schedule is launched (BAT's schedules carry no partition set, so Dagster does not catch up
  further; `max_catchup_runs` bounds any schedule that would);
- a schedule turned off and on again starts counting from the moment it is turned on: the
  ticks of the time it was off are never launched (a backfill launches those days on purpose);
- a tick time is launched at most once: its run carries the schedule name, the tick time and
  the run key, and the daemon looks for that run before creating one.
"""

import logging
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from bat_pipeline.cli.dagster_home import prepare_dagster_home
from bat_pipeline.defs.resources import BatHomeResource
from bat_pipeline.home import PROJECT_ROOT

DAYS_DOWN = [datetime(2026, 3, d, 1, tzinfo=UTC) for d in range(2, 12)]  # ten daily ticks
MONDAYS_DOWN = [datetime(2026, 3, 2, 3, tzinfo=UTC) + timedelta(weeks=w) for w in range(4)]


@pytest.fixture(scope="module")
def defs():
    from bat_pipeline.definitions import defs

    return defs


@pytest.fixture(scope="module")
def evaluate():
    with dg.instance_for_test() as instance:

        def tick(schedule: dg.ScheduleDefinition, at: datetime) -> list[dg.RunRequest]:
            """The run requests of the schedule's tick at `at`, as the daemon evaluates it."""
            context = dg.build_schedule_context(
                instance=instance, scheduled_execution_time=at, resources={"bat": BatHomeResource()}
            )
            return list(schedule.evaluate_tick(context).run_requests)

        yield tick


def test_missed_ticks_of_the_daily_ingest_have_distinct_run_keys_one_partition_each(defs, evaluate):
    schedule = defs.resolve_schedule_def("daily_ingest_schedule")
    requests = [r for at in DAYS_DOWN for r in evaluate(schedule, at)]
    assert [r.partition_key for r in requests] == [at.date().isoformat() for at in DAYS_DOWN]
    keys = [r.run_key for r in requests]
    assert None not in keys and len(set(keys)) == len(DAYS_DOWN)
    assert evaluate(schedule, DAYS_DOWN[0])[0].run_key == keys[0]  # same tick, same key


def test_missed_ticks_of_the_weekly_retrain_have_distinct_run_keys(defs, evaluate, bat_home):
    schedule = defs.resolve_schedule_def("weekly_retrain_schedule")
    requests = [r for at in MONDAYS_DOWN for r in evaluate(schedule, at)]
    keys = [r.run_key for r in requests]
    assert keys == [f"weekly:{at.date().isoformat()}" for at in MONDAYS_DOWN]
    assert evaluate(schedule, MONDAYS_DOWN[0])[0].run_key == keys[0]


def in_process_workspace():
    """The project's code location, loaded in this process (the daemon's view of it)."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    return InProcessWorkspaceLoadTarget(
        InProcessCodeLocationOrigin(
            LoadableTargetOrigin(
                module_name="bat_pipeline.definitions", working_directory=str(PROJECT_ROOT)
            ),
            location_name="bat_pipeline",
        )
    )


def test_the_daemon_after_downtime_and_after_a_pause_launches_no_backlog(bat_home):
    from dagster._core.test_utils import (
        create_test_daemon_workspace_context,
        freeze_time,
        load_remote_repo,
    )
    from dagster._scheduler.scheduler import launch_scheduled_runs

    prepare_dagster_home(bat_home)  # the project's dagster.yaml, as `bat-pipeline ui` uses it
    instance = dg.DagsterInstance.from_config(str(bat_home.dagster_home))
    log = logging.getLogger("test_schedules")

    def daemon_iteration(ctx, at: datetime) -> None:
        """One pass of the scheduler daemon at time `at`, with the instance's settings."""
        with freeze_time(at):
            list(launch_scheduled_runs(
                ctx, log, at, {}, max_catchup_runs=instance.scheduler.max_catchup_runs,
                max_tick_retries=instance.scheduler.max_tick_retries,
            ))  # fmt: skip

    def launched() -> list[tuple[str, str]]:
        return sorted(
            (run.tags["dagster/schedule_name"], run.tags.get("dagster/partition") or
             run.tags["dagster/run_key"]) for run in instance.get_runs()
        )  # fmt: skip

    with instance, create_test_daemon_workspace_context(in_process_workspace(), instance) as ctx:
        repo = load_remote_repo(ctx, "__repository__")
        ingest, weekly, scoring = (
            repo.get_schedule(name)
            for name in ("daily_ingest_schedule", "weekly_retrain_schedule", "daily_scoring_schedule")
        )  # fmt: skip
        start = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
        with freeze_time(start):  # scoring needs a model registry; it is not under test here
            instance.stop_schedule(scoring.get_remote_origin_id(), scoring.selector_id, scoring)
        daemon_iteration(ctx, start)
        assert launched() == []

        # the daemon is down for 19 days and 11 hours: 19 ingest ticks and 3 Mondays missed
        back = datetime(2026, 3, 20, 12, tzinfo=UTC)
        daemon_iteration(ctx, back)
        expected = [("daily_ingest_schedule", "2026-03-20"),
                    ("weekly_retrain_schedule", "weekly:2026-03-16")]  # fmt: skip
        assert launched() == expected
        daemon_iteration(ctx, back + timedelta(minutes=1))
        assert launched() == expected  # nothing twice

        # both schedules paused for three weeks, then turned on again: no backlog either
        with freeze_time(back + timedelta(minutes=2)):
            for schedule in (ingest, weekly):
                instance.stop_schedule(
                    schedule.get_remote_origin_id(), schedule.selector_id, schedule
                )
        resumed = datetime(2026, 4, 10, 12, tzinfo=UTC)
        with freeze_time(resumed):
            for schedule in (ingest, weekly):
                instance.start_schedule(schedule)
        daemon_iteration(ctx, resumed + timedelta(minutes=1))
        assert launched() == expected
        daemon_iteration(ctx, datetime(2026, 4, 13, 3, 30, tzinfo=UTC))  # the next ticks come
        assert launched() == sorted([*expected, ("daily_ingest_schedule", "2026-04-13"),
                                     ("weekly_retrain_schedule", "weekly:2026-04-13")])  # fmt: skip
