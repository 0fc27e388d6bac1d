"""The Dagster instance that `bat-pipeline` prepares under BAT_HOME: the project's dagster.yaml,
read by Dagster itself, bounds concurrent runs (SQLite storage), holds training runs to one at
a time (a flapping drift signal queues them) and bounds schedule catch-up."""

import dagster as dg
import pytest
import yaml

from bat_pipeline.cli.dagster_home import PROJECT_DAGSTER_YAML, prepare_dagster_home

#: SQLite run and event storage answers "database is locked" when many run workers write at
#: once: the run queue must keep the number of runs in progress this small
MAX_SQLITE_RUNS = 4


@pytest.fixture
def instance(bat_home):
    prepare_dagster_home(bat_home)
    with dg.DagsterInstance.from_config(str(bat_home.dagster_home)) as instance:
        yield instance


def test_the_prepared_home_holds_the_projects_dagster_yaml(bat_home):
    prepare_dagster_home(bat_home)
    copied = bat_home.dagster_home / "dagster.yaml"
    assert copied.read_bytes() == PROJECT_DAGSTER_YAML.read_bytes()


def test_runs_are_queued_with_a_small_limit_on_the_sqlite_instance(instance):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._core.storage.runs import SqliteRunStorage

    assert isinstance(instance.run_storage, SqliteRunStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)  # limits apply
    queue = instance.get_concurrency_config().run_queue_config
    assert 1 <= queue.max_concurrent_runs <= MAX_SQLITE_RUNS


def test_one_training_run_at_a_time(instance):
    from bat_pipeline.defs.jobs import training_job

    queue = instance.get_concurrency_config().run_queue_config
    limits = [dict(limit) for limit in queue.tag_concurrency_limits]
    assert {"key": "bat/job", "value": "training", "limit": 1} in limits
    # the limit holds only for runs that carry the tag: training_job's runs do
    assert training_job.tags["bat/job"] == "training"


def test_schedule_catch_up_is_set_explicitly_and_bounded(instance):
    from dagster._core.scheduler import DagsterDaemonScheduler

    settings = yaml.safe_load(PROJECT_DAGSTER_YAML.read_text())["scheduler"]["config"]
    assert set(settings) == {"max_catchup_runs", "max_tick_retries"}  # not Dagster's defaults
    scheduler = instance.scheduler
    assert isinstance(scheduler, DagsterDaemonScheduler)
    assert scheduler.max_catchup_runs == settings["max_catchup_runs"]
    assert 1 <= scheduler.max_catchup_runs <= 3
    assert 0 <= scheduler.max_tick_retries <= 2
