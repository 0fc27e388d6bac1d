"""Binary classification metrics of predicted probabilities, with undefined values as `None`.

A metric that cannot be computed (one class only, NaN probabilities, no rows) is `None`, never
0 or NaN, so that a gate can refuse it explicitly instead of comparing garbage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

METRIC_NAMES = ("accuracy", "balanced_accuracy", "auc", "log_loss")

Metric = Callable[[np.ndarray, np.ndarray], float | None]


@dataclass(frozen=True)
class OperatingPoints:
    """Decision thresholds chosen on validation, each for the metric it is reported with:
    `accuracy` maximises accuracy (the model's decision threshold), `balanced` maximises
    balanced accuracy (for a rare class it sits near the base rate, where the accuracy
    threshold would predict the majority class for everyone)."""

    accuracy: float = 0.5
    balanced: float = 0.5


def classification_metrics(
    y_true: np.ndarray,
    p: np.ndarray,
    threshold: float = 0.5,
    balanced_threshold: float | None = None,
) -> dict[str, float | None]:
    """`accuracy`, `balanced_accuracy`, `auc`, `log_loss` of probabilities `p` for 0/1 labels;
    accuracy at `threshold`, balanced accuracy at `balanced_threshold` (default: the same).

    Accuracy is defined for any non-empty, finite input; the others need both classes."""
    y, prob = _validated(y_true, p)
    undefined: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
    if y.size == 0 or not np.isfinite(prob).all():
        return undefined
    predicted = (prob >= threshold).astype(np.int64)
    out = undefined | {"accuracy": float(np.mean(predicted == y))}
    if np.unique(y).size < 2:
        return out
    if balanced_threshold is not None:
        predicted = (prob >= balanced_threshold).astype(np.int64)
    return out | {
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted)),
        "auc": float(skm.roc_auc_score(y, prob)),
        "log_loss": float(skm.log_loss(y, prob, labels=[0, 1])),
    }


def bootstrap_ci(
    y_true: np.ndarray,
    p: np.ndarray,
    metric: str | Metric = "auc",
    n: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `metric` (a name from `METRIC_NAMES` or a function
    (y, p) -> float | None) over `n` resamples of the rows; `None` when the metric is undefined
    on the full data or on more than half of the resamples."""
    y, prob = _validated(y_true, p)
    fn = _metric_fn(metric)
    if y.size == 0 or fn(y, prob) is None:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, y.size, size=y.size)
        value = fn(y[idx], prob[idx])
        if value is not None:
            values.append(value)
    if len(values) < max(1, n // 2):
        return None
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_intervals(
    y_true: np.ndarray,
    p: np.ndarray,
    accuracy_threshold: float = 0.5,
    n: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float] | None]:
    """Percentile bootstrap intervals of `accuracy` (at `accuracy_threshold`) and `auc`: the
    same resamples as `bootstrap_ci` with the same seed, each held as row counts, so that one
    sort of the probabilities serves every resample (linear time per resample instead of a
    sort and four metrics). An interval is `None` where `bootstrap_ci` would give `None`."""
    y, prob = _validated(y_true, p)
    out: dict[str, tuple[float, float] | None] = {"accuracy": None, "auc": None}
    if y.size == 0 or not np.isfinite(prob).all():
        return out
    correct = ((prob >= accuracy_threshold) == (y == 1)).astype(np.float64)
    _, tie_group = np.unique(prob, return_inverse=True)
    rng = np.random.default_rng(seed)
    accuracy, auc = [], []
    for _ in range(n):
        counts = np.bincount(rng.integers(0, y.size, size=y.size), minlength=y.size)
        accuracy.append(float(counts @ correct) / y.size)
        value = _weighted_auc(y, tie_group, counts.astype(np.float64))
        if value is not None:
            auc.append(value)
    tail = (1.0 - level) / 2 * 100
    for name, values in (("accuracy", accuracy), ("auc", auc)):
        full_data_defined = name == "accuracy" or np.unique(y).size == 2
        if full_data_defined and len(values) >= max(1, n // 2):
            low, high = np.percentile(values, [tail, 100 - tail])
            out[name] = (float(low), float(high))
    return out


def _weighted_auc(y: np.ndarray, tie_group: np.ndarray, weights: np.ndarray) -> float | None:
    """ROC AUC of rows repeated `weights` times (ties count one half): the Mann-Whitney
    statistic over groups of equal probability, numbered in increasing order."""
    groups = int(tie_group.max()) + 1
    positive = np.bincount(tie_group, weights=weights * y, minlength=groups)
    negative = np.bincount(tie_group, weights=weights * (1 - y), minlength=groups)
    n_pos, n_neg = positive.sum(), negative.sum()
    if n_pos == 0 or n_neg == 0:
        return None
    below = np.cumsum(negative) - negative
    return float((positive * (below + 0.5 * negative)).sum() / (n_pos * n_neg))


def _metric_fn(metric: str | Metric) -> Metric:
    if callable(metric):
        return metric
    if metric not in METRIC_NAMES:
        raise ValueError(f"unknown metric {metric!r}; use one of {METRIC_NAMES} or a function")
    return lambda y, p: classification_metrics(y, p)[metric]


def _validated(y_true: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    prob = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != prob.shape:
        raise ValueError(f"{y.size} labels but {prob.size} probabilities")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    finite = prob[np.isfinite(prob)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        raise ValueError("probabilities must lie in [0, 1]")
    return y.astype(np.int64), prob


def metrics_at(y_true: np.ndarray, p: np.ndarray, points: OperatingPoints) -> dict:
    """`classification_metrics` at validation-chosen operating points."""
    return classification_metrics(y_true, p, points.accuracy, points.balanced)


def operating_points(y_val: np.ndarray, p_val: np.ndarray) -> OperatingPoints:
    """Both thresholds, chosen on the validation split's labels and probabilities."""
    return OperatingPoints(accuracy_threshold(y_val, p_val), balanced_threshold(y_val, p_val))


def balanced_threshold(y_val: np.ndarray, p_val: np.ndarray, default: float = 0.5) -> float:
    """The threshold that maximises balanced accuracy on the validation split, searched over
    the quantiles of its probabilities (so a rare class's low scores are reachable); `default`
    when validation cannot decide (no rows, one class, non-finite probabilities)."""
    y, prob = _validated(y_val, p_val)
    if y.size == 0 or not np.isfinite(prob).all() or np.unique(y).size < 2:
        return default
    grid = np.unique(np.quantile(prob, np.linspace(0.005, 0.995, 199)))
    predicted = prob[None, :] >= grid[:, None]
    positive = y == 1
    balanced = (predicted[:, positive].mean(axis=1) + (~predicted[:, ~positive]).mean(axis=1)) / 2
    return float(grid[int(np.argmax(balanced))])


def accuracy_threshold(y_val: np.ndarray, p_val: np.ndarray, default: float = 0.5) -> float:
    """The decision threshold that maximises accuracy on the validation split (the operating
    point is chosen on validation and reported on test); `default` when validation cannot
    decide (no rows, non-finite probabilities)."""
    y, prob = _validated(y_val, p_val)
    if y.size == 0 or not np.isfinite(prob).all():
        return default
    grid = np.linspace(0.05, 0.95, 91)
    accuracy = ((prob[None, :] >= grid[:, None]) == (y[None, :] > 0.5)).mean(axis=1)
    best = grid[accuracy == accuracy.max()]
    return float(best[np.argmin(np.abs(best - default))])  # ties: nearest the default
