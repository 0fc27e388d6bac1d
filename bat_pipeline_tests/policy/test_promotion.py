"""The promotion rules, as pure decisions: failed gates, the idempotent repeat, identical
weights, a champion that moved since evaluation, and the normal replacement."""

from bat_pipeline.policy.gates import GateResult
from bat_pipeline.policy.promotion import (
    after_recheck,
    needs_recheck,
    promoted,
    settled_without_recheck,
)

PASS = GateResult("min_auc", 0.8, 0.5, True, "test AUC 0.8000 >= 0.5000")
FAIL = GateResult("beats_baseline", -0.01, 0.0, False, "LSTM AUC 0.79 vs baseline 0.80")


def test_failed_gates_refuse_and_name_the_gate():
    verdict = settled_without_recheck([PASS, FAIL], "1", "2", same_weights=False)
    assert not verdict.promoted
    assert verdict.reason.startswith("gates failed: beats_baseline")


def test_the_champion_again_is_an_idempotent_promotion():
    verdict = settled_without_recheck([PASS], "2", "2", same_weights=False)
    assert verdict.promoted and "idempotent" in verdict.reason


def test_identical_weights_are_not_promoted():
    verdict = settled_without_recheck([PASS], "1", "2", same_weights=True)
    assert not verdict.promoted and "same weights" in verdict.reason


def test_a_new_candidate_is_left_to_the_recheck_and_the_move():
    assert settled_without_recheck([PASS], "1", "2", same_weights=False) is None
    assert settled_without_recheck([PASS], None, "1", same_weights=False) is None


def test_recheck_only_when_the_champion_moved_since_evaluation():
    assert needs_recheck("3", evaluated_against="1")
    assert not needs_recheck("1", evaluated_against="1")
    assert not needs_recheck(None, evaluated_against=None)


def test_losing_to_the_new_champion_refuses():
    lost = GateResult("no_regression", -0.05, -0.01, False, "AUC 0.70 vs champion 0.75")
    verdict = after_recheck("3", lost)
    assert not verdict.promoted and "champion moved to version 3" in verdict.reason
    assert after_recheck("3", PASS) is None


def test_promotion_names_what_it_replaced():
    assert promoted("1").reason == "every gate passed; replaced version 1 (now previous)"
    assert promoted(None).reason == "every gate passed; first champion"
