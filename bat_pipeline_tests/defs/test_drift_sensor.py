"""The drift sensor's tick in milliseconds: a fake `DriftWatch` stands in for the warehouse and
the registry, and the tick's Dagster result (run request, tags, run config, cursor) is checked."""

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from bat_pipeline.config import BatConfig, DriftConfig
from bat_pipeline.defs.resources import BatHomeResource, MlflowResource, WarehouseResource
from bat_pipeline.defs.sensors import drift_request_history, drift_sensor, drift_tick
from bat_pipeline.drift.results import DriftResult, FeatureDrift
from bat_pipeline.drift.windows import Window
from bat_pipeline.policy.retrain import DriftObservation

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
WEEK = Window(date(2026, 2, 22), date(2026, 2, 28))
NEXT_WEEK = Window(date(2026, 3, 1), date(2026, 3, 7))
CFG = BatConfig().merged({"drift": {"window_days": 7, "threshold": 0.25, "cooldown_hours": 24}})


def result(score: float, name: str = "event_type_mix", triggers=("behaviour",)) -> DriftResult:
    return DriftResult(
        [FeatureDrift(name, "psi", score, 0.25, score > 0.25)], 0.25, trigger_groups=triggers
    )


class FakeWatch:
    """Returns the given observations in turn and records what it was asked."""

    def __init__(self, *observations: DriftObservation) -> None:
        self.observations = list(observations)
        self.asked: list[tuple[int, float, tuple[str, ...]]] = []

    def observe(self, cfg: DriftConfig) -> DriftObservation:
        self.asked.append((cfg.window_days, cfg.threshold, cfg.trigger_groups))
        return self.observations.pop(0)


def test_drift_requests_one_training_run_with_its_config_and_tags():
    watch = FakeWatch(DriftObservation(WEEK, result=result(0.6)))
    decision, tick = drift_tick(None, watch, CFG, "/etc/bat.yaml", NOW)
    assert watch.asked == [(7, 0.25, ("behaviour",))]
    assert decision.request
    (request,) = tick.run_requests
    assert request.run_key == f"drift:{WEEK}"
    assert request.tags == {"bat/trigger": "drift", "bat/drift_window": str(WEEK)}
    assert request.run_config["resources"] == {"bat": {"config": {"config_file": "/etc/bat.yaml"}}}
    assert request.run_config["ops"]["candidate_model"]["config"]["hidden_size"] == 32
    assert json.loads(tick.cursor)["requested"] == [str(WEEK)]


def test_the_same_window_is_requested_once_and_the_cooldown_holds_the_next():
    watch = FakeWatch(
        DriftObservation(WEEK, result=result(0.6)),
        DriftObservation(WEEK, result=result(0.6)),
        DriftObservation(NEXT_WEEK, result=result(0.6)),
        DriftObservation(NEXT_WEEK, result=result(0.6)),
    )
    _, first = drift_tick(None, watch, CFG, None, NOW)
    _, again = drift_tick(first.cursor, watch, CFG, None, NOW + timedelta(hours=1))
    assert again.run_requests == [] and "already requested" in again.skip_reason.skip_message
    _, soon = drift_tick(again.cursor, watch, CFG, None, NOW + timedelta(hours=2))
    assert soon.run_requests == [] and "cooldown" in soon.skip_reason.skip_message
    _, later = drift_tick(soon.cursor, watch, CFG, None, NOW + timedelta(hours=25))
    assert [r.run_key for r in later.run_requests] == [f"drift:{NEXT_WEEK}"]
    assert json.loads(later.cursor)["requested"] == [str(WEEK), str(NEXT_WEEK)]


def test_calm_data_and_broken_data_request_nothing():
    watch = FakeWatch(
        DriftObservation(WEEK, result=result(0.05)),
        DriftObservation(WEEK, result=result(0.6), failed_partitions=["2026-02-27"]),
    )
    _, calm = drift_tick(None, watch, CFG, None, NOW)
    assert calm.run_requests == [] and "no drift" in calm.skip_reason.skip_message
    assert json.loads(calm.cursor)["last_drift_detected"] is False
    _, broken = drift_tick(calm.cursor, watch, CFG, None, NOW)
    assert broken.run_requests == [] and "broken data blocks" in broken.skip_reason.skip_message
    assert "2026-02-27" in broken.skip_reason.skip_message


def test_nothing_to_compare_is_a_skip_with_the_reason():
    watch = FakeWatch(DriftObservation(skip="no champion yet: nothing to compare with"))
    decision, tick = drift_tick(json.dumps({"requested": ["x"]}), watch, CFG, None, NOW)
    assert not decision.request and tick.run_requests == []
    assert tick.skip_reason.skip_message == "no champion yet: nothing to compare with"
    assert json.loads(tick.cursor) == {"requested": ["x"], "last_checked_at": NOW.isoformat()}


def test_the_sensor_on_an_empty_home_skips_without_a_warehouse(bat_home):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            resources={
                "bat": BatHomeResource(),
                "warehouse": WarehouseResource(),
                "mlflow": MlflowResource(),
            },
        )
        outcome = drift_sensor(context)
    assert outcome.run_requests == []
    assert outcome.skip_reason.skip_message == "no warehouse yet: nothing ingested"
    assert "last_checked_at" in json.loads(outcome.cursor)


def test_population_drift_is_reported_in_the_skip_reason_unless_configured_as_trigger():
    ageing = DriftObservation(WEEK, result=result(0.8, "user_age_mix"))
    _, tick = drift_tick(None, FakeWatch(ageing), CFG, None, NOW)
    assert tick.run_requests == []
    assert "user_age_mix" in tick.skip_reason.skip_message
    assert "reported only" in tick.skip_reason.skip_message
    assert json.loads(tick.cursor)["last_groups_moved"] == ["population"]

    opted_in = CFG.merged({"drift": {"trigger_groups": ["behaviour", "population"]}})
    watch = FakeWatch(
        DriftObservation(WEEK, result=result(0.8, "user_age_mix", ("behaviour", "population")))
    )
    _, tick = drift_tick(None, watch, opted_in, None, NOW)
    assert watch.asked == [(7, 0.25, ("behaviour", "population"))]
    assert [r.run_key for r in tick.run_requests] == [f"drift:{WEEK}"]


def submit(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.DagsterRun:
    """What the sensor daemon does with a run request: a training_job run with its tags."""
    from bat_pipeline.definitions import defs

    job = defs.resolve_job_def("training_job")
    return instance.create_run_for_job(
        job_def=job,
        run_config=request.run_config,
        tags={**job.tags, **request.tags, "dagster/run_key": request.run_key,
              "dagster/sensor_name": "drift_sensor"},
    )  # fmt: skip


def test_a_reset_cursor_does_not_request_a_window_the_run_history_holds():
    now = datetime.now(UTC)  # the run history stamps runs with the real clock
    drifted = DriftObservation(WEEK, result=result(0.6))
    with dg.instance_for_test() as instance:
        _, first = drift_tick(None, FakeWatch(drifted), CFG, None, now,
                              drift_request_history(instance))  # fmt: skip
        (request,) = first.run_requests
        run = submit(instance, request)

        # the cursor is lost (reset, or an older copy restored): BAT's own decision still
        # refuses the window, names the run, and says the cursor had lost it
        decision, reset = drift_tick(None, FakeWatch(drifted), CFG, None,
                                     now + timedelta(hours=1), drift_request_history(instance))  # fmt: skip
        assert not decision.request and reset.run_requests == []
        message = reset.skip_reason.skip_message
        assert f"a retrain was already requested for {WEEK}" in message
        assert run.run_id in message and "cursor had lost it" in message
        healed = json.loads(reset.cursor)  # the cursor learns it back
        assert healed["requested"] == [str(WEEK)] and healed["last_request_at"]

        # a new window inside the cooldown of the forgotten request waits, and says why
        nxt = DriftObservation(NEXT_WEEK, result=result(0.6))
        _, soon = drift_tick(None, FakeWatch(nxt), CFG, None, now + timedelta(hours=2),
                             drift_request_history(instance))  # fmt: skip
        assert soon.run_requests == []
        assert "within the cooldown (last retrain request from the run history" in (
            soon.skip_reason.skip_message
        )
        _, later = drift_tick(None, FakeWatch(nxt), CFG, None, now + timedelta(hours=25),
                              drift_request_history(instance))  # fmt: skip
        assert [r.run_key for r in later.run_requests] == [f"drift:{NEXT_WEEK}"]
