"""Drift between two windows of customer events, measured as effect sizes.

`compare_profiles` scores every part of two `Profile`s with the population stability index
(PSI, the primary score) and reports the Jensen–Shannon distance and, where quantiles are known,
the Wasserstein distance beside it. Each score is compared with its own threshold: the
configured floor, raised to the PSI that sampling noise alone gives at the two windows' sizes
(`statistics.null_psi`), so a small shop's calm week is not flagged. Transitions are scored in
`transitions`. `compare_scores` does the same for the champion's predictions,
`realised_performance` for its accuracy once labels have matured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.stats import wasserstein_distance

from bat_pipeline.drift.groups import DEFAULT_TRIGGER_GROUPS
from bat_pipeline.drift.histograms import Histogram
from bat_pipeline.drift.profiles import Profile
from bat_pipeline.drift.results import (
    DEFAULT_THRESHOLD,
    DriftResult,
    EmptyWindowError,
    FeatureDrift,
    scored_feature,
)
from bat_pipeline.drift.statistics import js_distance, null_psi, psi
from bat_pipeline.drift.transitions import compare_transitions
from bat_pipeline.ml.metrics import classification_metrics

#: higher-is-better metrics compared by `realised_performance`; log loss is lower-is-better.
_HIGHER_IS_BETTER = ("accuracy", "balanced_accuracy", "auc")


def compare_histograms(
    name: str,
    reference: Histogram,
    current: Histogram,
    threshold: float = DEFAULT_THRESHOLD,
    kind: str = "feature",
) -> FeatureDrift:
    """PSI over the bins (and the missing-value bin when either side has one) against the
    noise of the histograms' counts and design effects, with JS distance, Wasserstein distance
    of the quantiles, means and missing shares as extras."""
    if list(reference.edges) != list(current.edges):
        raise ValueError(
            f"{name}: the current histogram was not binned with the reference's edges "
            "(build the current profile with reference=...)"
        )
    ref, cur = list(reference.counts), list(current.counts)
    if reference.missing or current.missing:
        ref, cur = [*ref, reference.missing], [*cur, current.missing]
    wasserstein = None
    if reference.quantiles and current.quantiles:
        wasserstein = float(wasserstein_distance(reference.quantiles, current.quantiles))
    extra = {
        "js": js_distance(ref, cur),
        "wasserstein": wasserstein,
        "ref_mean": reference.mean,
        "cur_mean": current.mean,
        "ref_missing_share": reference.missing / reference.total,
        "cur_missing_share": current.missing / current.total,
    }
    noise = null_psi(ref, cur, reference.deff, current.deff)
    return scored_feature(name, "psi", psi(ref, cur), threshold, noise, extra=extra, kind=kind)


def compare_mix(
    name: str,
    reference: Mapping[str, int],
    current: Mapping[str, int],
    threshold: float = DEFAULT_THRESHOLD,
    deff_reference: float | None = None,
    deff_current: float | None = None,
) -> FeatureDrift:
    """PSI and JS over a categorical mix ({category: count}) against the noise of its counts
    and design effects. A category seen on one side only counts as empty on the other, is
    scored like any other (it is drift when it holds more than noise would put there) and is
    listed as `unseen` (new) or `vanished`. Raises EmptyWindowError when a side has no counts
    at all (nothing was measured there: not drift)."""
    categories = sorted(set(reference) | set(current))
    ref = np.array([reference.get(c, 0) for c in categories], dtype=float)
    cur = np.array([current.get(c, 0) for c in categories], dtype=float)
    for side, counts in (("reference", ref), ("current", cur)):
        if counts.sum() <= 0:
            raise EmptyWindowError(f"{name}: nothing counted in the {side} window")
    ref_share, cur_share = ref / ref.sum(), cur / cur.sum()
    moved = np.argsort(-np.abs(cur_share - ref_share))[:5]
    extra = {
        "js": js_distance(ref, cur),
        "unseen": [c for c in categories if current.get(c, 0) and not reference.get(c, 0)],
        "vanished": [c for c in categories if reference.get(c, 0) and not current.get(c, 0)],
        "moved": {
            categories[i]: {"ref_share": float(ref_share[i]), "cur_share": float(cur_share[i])}
            for i in moved
        },
    }
    noise = null_psi(ref, cur, deff_reference, deff_current)
    return scored_feature(name, "psi", psi(ref, cur), threshold, noise, extra=extra, kind="mix")


def compare_profiles(
    reference: Profile,
    current: Profile,
    threshold: float = DEFAULT_THRESHOLD,
    trigger_groups: Sequence[str] = DEFAULT_TRIGGER_GROUPS,
) -> DriftResult:
    """Every part of two profiles compared; `current` must be binned with `reference`'s edges.
    `threshold` is the PSI floor; `trigger_groups` the signal groups whose drift decides.

    Raises EmptyWindowError when either window has no events (that is broken data, not drift).
    """
    for label, profile in (("reference", reference), ("current", current)):
        if profile.n_events == 0 or profile.n_user_days == 0:
            raise EmptyWindowError(
                f"the {label} window {profile.start}..{profile.end} has no events to compare"
            )
    missing = sorted(set(reference.features) - set(current.features))
    if missing:
        raise ValueError(f"the current profile lacks features {missing}")
    features = [
        compare_histograms(name, hist, current.features[name], threshold)
        for name, hist in reference.features.items()
    ]
    features += [
        compare_mix(
            f"{dim}_mix",
            reference.mix[dim],
            current.mix[dim],
            threshold,
            reference.mix_deff.get(dim),
            current.mix_deff.get(dim),
        )
        for dim in sorted(set(reference.mix) | set(current.mix))
        if reference.mix.get(dim) and current.mix.get(dim)
    ]
    features += [
        *compare_transitions(reference, current, threshold),
        compare_histograms(
            "session_length",
            reference.session_length,
            current.session_length,
            threshold,
            kind="sequence",
        ),
        compare_histograms(
            "inter_event_gap",
            reference.inter_event_gap,
            current.inter_event_gap,
            threshold,
            kind="sequence",
        ),
    ]
    return DriftResult(features, threshold, reference.summary(), current.summary(), trigger_groups)


def compare_scores(
    reference_scores: Sequence[float] | np.ndarray,
    current_scores: Sequence[float] | np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    name: str = "prediction_score",
) -> FeatureDrift:
    """Drift of the champion's score distribution: PSI over the reference scores' deciles
    (one score per customer: independent counts, design effect 1), with JS and Wasserstein
    distance (in score units) as extras."""
    ref = np.asarray(reference_scores, dtype=float)
    cur = np.asarray(current_scores, dtype=float)
    if not np.isfinite(ref).any() or not np.isfinite(cur).any():
        raise ValueError("compare_scores needs scores on both sides")
    ref_hist = replace(Histogram.from_values(ref), deff=1.0)
    cur_hist = replace(Histogram.from_values(cur, edges=ref_hist.edges), deff=1.0)
    return compare_histograms(name, ref_hist, cur_hist, threshold, kind="prediction")


def realised_performance(
    y_true: Sequence[int] | np.ndarray,
    p: Sequence[float] | np.ndarray,
    expected: Mapping[str, float | None],
    decision_threshold: float = 0.5,
    tolerance: float = 0.05,
) -> dict[str, Any]:
    """How the model does on labels that have matured, next to its test figures.

    `y_true` are 0/1 outcomes, `p` predicted probabilities, `expected` the model's test metrics
    ({accuracy, balanced_accuracy, auc, log_loss}, any subset). Returns
    {n, positive_rate, metrics: {name: {realised, expected, change}}, degraded: [names]}, where a
    metric undefined on these labels (AUC with one class, anything without labels) is None,
    never 0, and `degraded` names the metrics worse than expected by more than `tolerance`.
    """
    y = np.asarray(y_true, dtype=float)
    prob = np.asarray(p, dtype=float)
    if y.shape != prob.shape:
        raise ValueError(f"y_true has shape {y.shape} but p has {prob.shape}")
    realised = classification_metrics(y, prob, decision_threshold)
    metrics, degraded = {}, []
    for name, value in realised.items():
        exp = expected.get(name)
        change = value - exp if value is not None and exp is not None else None
        metrics[name] = {"realised": value, "expected": exp, "change": change}
        worse = change is not None and (
            change < -tolerance if name in _HIGHER_IS_BETTER else change > tolerance
        )
        if worse:
            degraded.append(name)
    return {
        "n": int(y.size),
        "positive_rate": float(y.mean()) if y.size else None,
        "metrics": metrics,
        "degraded": degraded,
    }
