"""Evaluation gates: pure decisions on metrics, each returning value, threshold and a reason.

An undefined metric (None or NaN: single-class window, failed prediction) fails its gate with
a reason; it is never compared as a number. The first model ever has no
champion, so only the absolute gates apply to it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from bat_pipeline.config import GatesConfig

GATE_NAMES = (
    "min_accuracy",
    "beats_majority",
    "min_balanced_accuracy",
    "min_auc",
    "max_loss_gap",
    "beats_baseline",
    "no_regression",
)


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict."""

    name: str
    value: float | None
    threshold: float | None
    passed: bool
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def _defined(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _undefined(name: str, what: str, threshold: float | None) -> GateResult:
    return GateResult(
        name,
        None,
        threshold,
        False,
        f"{what} is undefined (single-class window or non-finite predictions): not blessed",
    )


def _at_least(name: str, what: str, value: float | None, threshold: float) -> GateResult:
    if not _defined(value):
        return _undefined(name, what, threshold)
    ok = value >= threshold
    return GateResult(
        name, value, threshold, ok, f"{what} {value:.4f} {'>=' if ok else '<'} {threshold:.4f}"
    )


def min_accuracy(accuracy: float | None, threshold: float) -> GateResult:
    return _at_least("min_accuracy", "test accuracy", accuracy, threshold)


def beats_majority(
    accuracy: float | None, majority_rate: float | None, required: bool
) -> GateResult:
    """Accuracy above what always predicting the window's majority class scores."""
    if not required:
        return GateResult("beats_majority", None, None, True, "disabled (gates.must_beat_majority)")
    if not (_defined(accuracy) and _defined(majority_rate)):
        return _undefined("beats_majority", "test accuracy or the majority-class rate", None)
    lift = accuracy - majority_rate
    ok = lift > 0
    return GateResult(
        "beats_majority",
        lift,
        0.0,
        ok,
        f"test accuracy {accuracy:.4f} vs always the majority class {majority_rate:.4f} "
        f"(lift {lift:+.4f})",
    )


def min_balanced_accuracy(balanced_accuracy: float | None, threshold: float) -> GateResult:
    return _at_least(
        "min_balanced_accuracy", "test balanced accuracy", balanced_accuracy, threshold
    )


def min_auc(auc: float | None, threshold: float) -> GateResult:
    return _at_least("min_auc", "test AUC", auc, threshold)


def max_loss_gap(train_loss: float | None, val_loss: float | None, threshold: float) -> GateResult:
    if not (_defined(train_loss) and _defined(val_loss)):
        return _undefined("max_loss_gap", "train or validation loss", threshold)
    gap = val_loss - train_loss
    ok = gap <= threshold
    return GateResult(
        "max_loss_gap",
        gap,
        threshold,
        ok,
        f"val_loss - train_loss = {gap:.4f} {'<=' if ok else '>'} {threshold:.4f}"
        + ("" if ok else " (overfitting)"),
    )


def beats_baseline(auc: float | None, baseline_auc: float | None, required: bool) -> GateResult:
    if not required:
        return GateResult("beats_baseline", None, 0.0, True, "disabled (gates.must_beat_baseline)")
    if not (_defined(auc) and _defined(baseline_auc)):
        return _undefined("beats_baseline", "the LSTM's or the baseline's AUC", 0.0)
    lift = auc - baseline_auc
    ok = lift > 0
    return GateResult(
        "beats_baseline",
        lift,
        0.0,
        ok,
        f"LSTM AUC {auc:.4f} vs baseline {baseline_auc:.4f} (lift {lift:+.4f})",
    )


def no_regression(
    auc: float | None, champion_auc: float | None, has_champion: bool, tolerance: float
) -> GateResult:
    if not has_champion:
        return GateResult(
            "no_regression", None, -tolerance, True, "first model: no champion to compare with"
        )
    if not (_defined(auc) and _defined(champion_auc)):
        return _undefined("no_regression", "the candidate's or the champion's AUC", -tolerance)
    delta = auc - champion_auc
    ok = delta >= -tolerance
    return GateResult(
        "no_regression",
        delta,
        -tolerance,
        ok,
        f"AUC {auc:.4f} vs champion {champion_auc:.4f} on the same test window "
        f"(delta {delta:+.4f}, tolerance {tolerance:.4f})",
    )


def evaluate_gates(
    candidate: dict, baseline: dict, champion: dict | None, cfg: GatesConfig
) -> list[GateResult]:
    """All gates for a candidate's metrics (`accuracy`, `balanced_accuracy`, `auc`,
    `train_loss`, `val_loss`, and `majority_rate`: the share of the test window's majority
    class), the strongest baseline's and the champion's (None = no champion yet) on the same
    test window."""
    return [
        min_accuracy(candidate.get("accuracy"), cfg.min_accuracy),
        beats_majority(
            candidate.get("accuracy"), candidate.get("majority_rate"), cfg.must_beat_majority
        ),
        min_balanced_accuracy(candidate.get("balanced_accuracy"), cfg.min_balanced_accuracy),
        min_auc(candidate.get("auc"), cfg.min_auc),
        max_loss_gap(candidate.get("train_loss"), candidate.get("val_loss"), cfg.max_loss_gap),
        beats_baseline(candidate.get("auc"), baseline.get("auc"), cfg.must_beat_baseline),
        no_regression(
            candidate.get("auc"),
            (champion or {}).get("auc"),
            champion is not None,
            cfg.max_regression,
        ),
    ]
