"""The drift sensor's decision is pure and explainable: drift on healthy data requests one
retrain per window, outside the cooldown; anything else says why not. The cursor it keeps
remembers what was requested."""

from datetime import UTC, date, datetime, timedelta

import pytest

from bat_pipeline.drift.results import DriftResult, FeatureDrift
from bat_pipeline.drift.windows import Window
from bat_pipeline.policy.retrain import (
    MAX_REMEMBERED_WINDOWS,
    DriftObservation,
    RequestedRun,
    RequestHistory,
    next_tick,
    retrain_decision,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = Window(date(2026, 2, 20), date(2026, 2, 26))


def decide(**kw):
    args = dict(window=WINDOW, drift_detected=True, verdict="x moved", failed_partitions=[],
                last_request_at=None, now=NOW, cooldown=timedelta(hours=24), already_requested=False)  # fmt: skip
    return retrain_decision(**{**args, **kw})


def test_retrain_decision_requests_on_drift_with_a_window_run_key():
    decision = decide()
    assert decision.request and decision.run_key == "drift:2026-02-20:2026-02-26"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"drift_detected": False}, "no drift"),
        ({"failed_partitions": ["2026-02-25"]}, "broken data blocks"),
        ({"already_requested": True}, "already requested"),
        ({"last_request_at": NOW - timedelta(hours=2)}, "cooldown"),
    ],
)
def test_retrain_decision_refuses_with_a_reason(change, words):
    decision = decide(**change)
    assert not decision.request and words in decision.reason


def test_cooldown_expires():
    assert decide(last_request_at=NOW - timedelta(hours=25)).request


COOLDOWN = timedelta(hours=24)


def drifted(moved: bool) -> DriftResult:
    score = 0.5 if moved else 0.01
    return DriftResult([FeatureDrift("event_type_mix", "psi", score, 0.2, score > 0.2)], 0.2)


def test_next_tick_requests_then_remembers_the_window():
    seen = DriftObservation(WINDOW, result=drifted(True))
    decision, state = next_tick({}, seen, COOLDOWN, NOW)
    assert decision.request and decision.run_key == f"drift:{WINDOW}"
    assert state["requested"] == [str(WINDOW)] and state["last_request_at"] == NOW.isoformat()
    assert state["last_checked"] == str(WINDOW) and state["last_drift_detected"] is True
    again, later = next_tick(state, seen, COOLDOWN, NOW + timedelta(days=3))
    assert not again.request and "already requested" in again.reason
    assert later["requested"] == [str(WINDOW)]


def test_next_tick_without_drift_requests_nothing_and_keeps_the_cursor():
    decision, state = next_tick({}, DriftObservation(WINDOW, result=drifted(False)), COOLDOWN, NOW)
    assert not decision.request and "no drift" in decision.reason
    assert "requested" not in state and state["last_drift_detected"] is False


def test_next_tick_skips_with_the_watch_reason():
    decision, state = next_tick({"requested": ["a"]}, DriftObservation(skip="no champion yet"),
                                COOLDOWN, NOW)  # fmt: skip
    assert not decision.request and decision.reason == "no champion yet"
    assert state == {"requested": ["a"], "last_checked_at": NOW.isoformat()}


def test_next_tick_failed_quality_blocks_even_with_drift():
    seen = DriftObservation(WINDOW, result=drifted(True), failed_partitions=["2026-02-25"])
    decision, _ = next_tick({}, seen, COOLDOWN, NOW)
    assert not decision.request and "2026-02-25" in decision.reason


def test_next_tick_remembers_a_bounded_number_of_windows():
    old = [f"w{i}" for i in range(MAX_REMEMBERED_WINDOWS)]
    _, state = next_tick({"requested": old}, DriftObservation(WINDOW, result=drifted(True)),
                         COOLDOWN, NOW)  # fmt: skip
    assert len(state["requested"]) == MAX_REMEMBERED_WINDOWS
    assert state["requested"][-1] == str(WINDOW) and "w0" not in state["requested"]


def moved(*names: str, triggers=("behaviour",)) -> DriftResult:
    """Calm behaviour, plus the named signals drifted (their group from their name)."""
    calm = FeatureDrift("event_type_mix", "psi", 0.01, 0.2, False)
    return DriftResult([calm, *(FeatureDrift(n, "psi", 0.9, 0.2, True) for n in names)], 0.2,
                       trigger_groups=triggers)  # fmt: skip


@pytest.mark.parametrize("signal", ["user_age_mix", "device_mix", "load_outcome_mix"])
def test_population_and_data_drift_are_reported_but_request_no_retrain(signal):
    decision, state = next_tick({}, DriftObservation(WINDOW, result=moved(signal)), COOLDOWN, NOW)
    assert not decision.request
    assert decision.reason.startswith(f"no drift in {WINDOW}")
    assert signal in decision.reason and "reported only" in decision.reason
    assert state["last_drift_detected"] is False
    assert state["last_groups_moved"] == ["data" if signal == "load_outcome_mix" else "population"]


def test_a_group_switched_on_as_trigger_requests_a_retrain():
    result = moved("user_age_mix", triggers=("behaviour", "population"))
    decision, _ = next_tick({}, DriftObservation(WINDOW, result=result), COOLDOWN, NOW)
    assert decision.request and "user_age_mix" in decision.reason
    behaviour = moved("purchases_per_cart", "user_age_mix")
    decision, state = next_tick({}, DriftObservation(WINDOW, result=behaviour), COOLDOWN, NOW)
    assert decision.request and "purchases_per_cart" in decision.reason
    assert state["last_groups_moved"] == ["behaviour", "population"]


OTHER = Window(date(2026, 2, 13), date(2026, 2, 19))


def test_a_reset_cursor_is_completed_from_the_run_history():
    seen = DriftObservation(WINDOW, result=drifted(True))
    history = RequestHistory({str(WINDOW): RequestedRun("run-1", NOW - timedelta(days=2))})
    decision, state = next_tick({}, seen, COOLDOWN, NOW, history)
    assert not decision.request
    assert decision.reason == (f"a retrain was already requested for {WINDOW} (run run-1 in the "
                               "run history; the sensor's cursor had lost it: reset or older)")  # fmt: skip
    assert state["requested"] == [str(WINDOW)]
    assert state["last_request_at"] == (NOW - timedelta(days=2)).isoformat()
    # from the healed cursor on, the usual reason
    again, _ = next_tick(state, seen, COOLDOWN, NOW + timedelta(hours=1), history)
    assert again.reason == f"a retrain was already requested for {WINDOW}"


def test_a_forgotten_request_starts_the_cooldown_and_a_remembered_one_is_not_reported_as_such():
    seen = DriftObservation(WINDOW, result=drifted(True))
    recent = RequestHistory({str(OTHER): RequestedRun("run-2", NOW - timedelta(hours=3))})
    decision, state = next_tick({}, seen, COOLDOWN, NOW, recent)
    assert not decision.request and "cooldown (last retrain request from the run history" in (
        decision.reason
    )
    assert state["requested"] == [str(OTHER)]
    # the cursor knows that request: the history adds nothing, the reason is the usual one
    cursor = {"requested": [str(OTHER)], "last_request_at": (NOW - timedelta(hours=3)).isoformat()}
    decision, _ = next_tick(cursor, seen, COOLDOWN, NOW, recent)
    assert "cooldown (last retrain request 2026" in decision.reason
    # old requests in the history do not hold a new window back
    old = RequestHistory({str(OTHER): RequestedRun("run-2", NOW - timedelta(days=3))})
    assert next_tick({}, seen, COOLDOWN, NOW, old)[0].request
