"""Fire drills for the automation: landing sensor, drift sensor, retrain, promotion.

One small champion is trained once per module on calm synthetic data (real DuckDB, MLflow and
Dagster instance under tmp_path); each test works on its own copy of that BAT_HOME.
"""

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from bat_pipeline.config import load_config
from bat_pipeline.defs.resources import BatHomeResource, MlflowResource, WarehouseResource
from bat_pipeline.defs.sensors import drift_tick
from bat_pipeline.home import BatHome
from bat_pipeline.lifecycle.drift_watch import WarehouseDriftWatch
from bat_pipeline.policy.gates import GATE_NAMES
from bat_pipeline_tests.helpers import SMALL_MODEL_GATES

pytestmark = pytest.mark.slow

START = date(2026, 1, 1)
CALM_DAYS, DRIFT_DAYS = 100, 10
DRIFT_START = START + timedelta(days=CALM_DAYS)
AS_OF = DRIFT_START - timedelta(days=14)  # the champion leaves two calm weeks unseen
CONFIG = {
    # 400 customers make a noisy daily volume; the volume check is tested elsewhere
    "data": {"volume_tolerance": 2.0},
    "task": {"lookback_days": 21, "horizon_days": 7, "cutoff_every_days": 7},
    "model": {"max_epochs": 3, "hidden_size": 16, "num_layers": 1, "batch_size": 256},
    "gates": SMALL_MODEL_GATES,
    # 400 customers make rare transitions noisy; the detector's calibration on calm data is
    # tested with 1,500 customers in drift/test_windows.py
    "drift": {"cooldown_hours": 24, "window_days": 7, "threshold": 0.3},
}


def use_home(root: Path, monkeypatch) -> BatHome:
    from bat_pipeline.cli.dagster_home import prepare_dagster_home

    home = BatHome(root)
    monkeypatch.setenv("BAT_HOME", str(root))
    prepare_dagster_home(home)
    return home


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """BAT_HOME with calm days ingested and a first champion; plus the drifted source files."""
    from bat_pipeline.cli.dagster_runs import run_job
    from bat_pipeline.cli.demo import deliver
    from bat_pipeline.cli.run import run_training
    from bat_pipeline.data.synthetic import generate

    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("trained") / "bat"
    home = use_home(root, mp)
    home.ensure()
    (root / "bat.yaml").write_text(yaml.safe_dump(CONFIG))
    source = root.parent / "source"
    generate(source, users=400, days=CALM_DAYS + DRIFT_DAYS, seed=3, start=START,
             drift="conversion_drop", drift_start=DRIFT_START)  # fmt: skip
    keys = deliver(source, home.landing, START, DRIFT_START - timedelta(days=1))
    assert run_job(home, "ingest_job", partition_range=(keys[0], keys[-1])).success
    first = run_training(home, load_config(None, root), None, AS_OF.isoformat())
    assert first["promoted"], first
    # the run log shows training moving: one line per epoch
    with dg.DagsterInstance.get() as instance:
        messages = [e.user_message for e in instance.all_logs(first["dagster_run_id"])]
    epochs = [m for m in messages if m.startswith("epoch ") and "val AUC" in m]
    assert epochs and epochs[0].startswith("epoch 1/3, train loss"), messages[-20:]
    mp.undo()
    return root, source, first


@pytest.fixture
def home(trained, tmp_path, monkeypatch):
    root, _, _ = trained
    copy = tmp_path / "bat"
    shutil.copytree(root, copy)
    return use_home(copy, monkeypatch)


def tick(state, now=None):
    """(decision, new cursor state, run config of the request or None) of one real tick."""
    bat = BatHomeResource()
    watch = WarehouseDriftWatch(WarehouseResource().path(), MlflowResource().store())
    decision, result = drift_tick(
        json.dumps(state), watch, bat.config(), None, now or datetime.now(UTC)
    )
    run_config = result.run_requests[0].run_config if result.run_requests else None
    return decision, json.loads(result.cursor), run_config


def deliver_drift(home, trained):
    from bat_pipeline.cli.dagster_runs import run_job
    from bat_pipeline.cli.demo import deliver

    _, source, _ = trained
    keys = deliver(source, home.landing, DRIFT_START, DRIFT_START + timedelta(days=DRIFT_DAYS - 1))
    assert run_job(home, "ingest_job", partition_range=(keys[0], keys[-1])).success
    return keys


def test_calm_days_request_no_retrain(home):
    decision, state, run_config = tick({})
    assert not decision.request, decision.reason
    assert "no drift" in decision.reason
    assert run_config is None
    assert state["last_drift_detected"] is False


def test_drift_requests_exactly_one_retrain_which_is_gated_and_promoted(home, trained):
    from bat_pipeline.cli.run import run_training
    from bat_pipeline.lifecycle.registry import CHAMPION, alias_version

    deliver_drift(home, trained)
    decision, state, run_config = tick({})
    assert decision.request, decision.reason
    assert decision.run_key.startswith("drift:")
    again, _, _ = tick(state)
    assert not again.request and "already requested" in again.reason
    store = MlflowResource().store()
    before = alias_version(store, CHAMPION)
    retrain = run_training(
        home, load_config(None, home.root), None, None, trigger="drift", run_config=run_config
    )
    # the fire drill: a real behaviour shift must end in a new champion, or the drill fails
    assert retrain["status"] == "promoted", retrain.get("decision")
    assert [g["name"] for g in retrain["gates"]] == list(GATE_NAMES)
    assert all(g["passed"] for g in retrain["gates"])
    tags = store.client().get_run(retrain["mlflow_run_id"]).data.tags
    assert tags["bat.trigger"] == "drift" and tags["bat.promotion"] == "promoted"
    assert alias_version(store, CHAMPION) == retrain["model_version"] != before


def test_flapping_drift_inside_the_cooldown_launches_nothing(home, trained):
    deliver_drift(home, trained)
    now = datetime.now(UTC)
    state = {
        "requested": ["2000-01-01:2000-01-07"],
        "last_request_at": (now - timedelta(hours=1)).isoformat(),
    }
    decision, _, _ = tick(state, now)
    assert not decision.request and "cooldown" in decision.reason
    later, _, _ = tick(state, now + timedelta(hours=25))
    assert later.request


def test_failed_quality_checks_block_the_retrain(home, trained):
    from bat_pipeline.data.sqlfiles import statement
    from bat_pipeline.data.warehouse import writer

    keys = deliver_drift(home, trained)
    with writer(home.warehouse) as con:
        con.execute(
            statement("insert_quality_result"),
            {"partition_key": keys[-1], "passed": False, "failed_expectations": ["volume_vs_trailing"],
             "checked_at": datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)},
        )  # fmt: skip
    decision, _, _ = tick({})
    assert not decision.request
    assert "broken data blocks" in decision.reason and keys[-1] in decision.reason


def test_a_sensor_that_raises_leaves_its_cursor_unchanged(home):
    from bat_pipeline.config import ConfigError
    from bat_pipeline.defs.sensors import drift_sensor

    bad = home.root / "broken.yaml"
    bad.write_text("task: {horizon_days: -3}\n")
    cursor = json.dumps({"requested": ["2026-01-01:2026-01-07"]})
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={
                "bat": BatHomeResource(config_file=str(bad)),
                "warehouse": WarehouseResource(),
                "mlflow": MlflowResource(),
            },
        )
        with pytest.raises(ConfigError):
            drift_sensor(context)
        assert context.cursor == cursor


def test_landing_sensor_launches_once_per_content(home, trained):
    from bat_pipeline.defs.sensors import landing_sensor

    _, source, _ = trained
    day = DRIFT_START.isoformat()
    shutil.copyfile(source / f"events_{day}.csv", home.landing / f"events_{day}.csv")

    def evaluate(cursor):
        with dg.instance_for_test() as instance:
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources={"bat": BatHomeResource(), "warehouse": WarehouseResource()},
            )
            return landing_sensor(context)

    first = evaluate(None)
    assert [r.partition_key for r in first.run_requests] == [day]  # calm days are already loaded
    assert first.run_requests[0].run_key.startswith(f"raw_events:{day}:")
    assert evaluate(first.cursor).run_requests == []
    path = home.landing / f"events_{day}.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # a corrected delivery: one row fewer
    second = evaluate(first.cursor)
    assert [r.partition_key for r in second.run_requests] == [day]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def test_a_reset_drift_cursor_does_not_request_the_same_window_again(home, trained):
    from bat_pipeline.defs.sensors import drift_sensor

    deliver_drift(home, trained)
    resources = {"bat": BatHomeResource(), "warehouse": WarehouseResource(),
                 "mlflow": MlflowResource()}  # fmt: skip
    with dg.instance_for_test() as instance:
        first = drift_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        (request,) = first.run_requests
        instance.add_run(  # what the daemon records for the request (not executed here)
            dg.DagsterRun(job_name="training_job", run_config=request.run_config,
                          tags={**request.tags, "dagster/run_key": request.run_key})
        )  # fmt: skip
        # the cursor is gone (reset, or an older copy restored): BAT itself refuses the window
        again = drift_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert again.run_requests == []
    message = again.skip_reason.skip_message
    assert f"a retrain was already requested for {request.run_key.split(':', 1)[1]}" in message
    assert "cursor had lost it" in message
