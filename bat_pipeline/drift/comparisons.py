"""Drift between two windows of customer events, measured as effect sizes.

`compare_profiles` scores every part of two `Profile`s with the population stability index
(PSI, the primary score, compared with a threshold) and reports the Jensen–Shannon distance and,
where quantiles are known, the Wasserstein distance beside it. Transitions are scored as a whole
and per source event (`next_after_checkout`...), so a rare but telling step such as
checkout -> purchase is not drowned by the frequent ones. `compare_scores` does the same for the
champion's predictions, `realised_performance` for its accuracy once labels have matured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import wasserstein_distance

from bat_pipeline.drift.histograms import Histogram
from bat_pipeline.drift.profiles import SESSION_END, SESSION_START, Profile
from bat_pipeline.drift.results import (
    DEFAULT_THRESHOLD,
    DriftResult,
    EmptyWindowError,
    FeatureDrift,
    scored_feature,
)
from bat_pipeline.drift.statistics import NOISE_SHARE, js_distance, noise_of, noise_psi, psi
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
    """PSI over the bins (and the missing-value bin when either side has one), with JS
    distance, Wasserstein distance of the quantiles, means and missing shares as extras."""
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
        "noise_psi": noise_of(ref, cur),
        "wasserstein": wasserstein,
        "ref_mean": reference.mean,
        "cur_mean": current.mean,
        "ref_missing_share": reference.missing / reference.total,
        "cur_missing_share": current.missing / current.total,
    }
    return scored_feature(name, "psi", psi(ref, cur), threshold, extra=extra, kind=kind)


def compare_mix(
    name: str,
    reference: Mapping[str, int],
    current: Mapping[str, int],
    threshold: float = DEFAULT_THRESHOLD,
) -> FeatureDrift:
    """PSI and JS over a categorical mix ({category: count}); categories seen on one side only
    count as empty on the other and are listed as `unseen` (new) or `vanished`."""
    categories = sorted(set(reference) | set(current))
    ref = np.array([reference.get(c, 0) for c in categories], dtype=float)
    cur = np.array([current.get(c, 0) for c in categories], dtype=float)
    ref_share, cur_share = ref / ref.sum(), cur / cur.sum()
    moved = np.argsort(-np.abs(cur_share - ref_share))[:5]
    extra = {
        "js": js_distance(ref, cur),
        "noise_psi": noise_of(ref, cur),
        "unseen": [c for c in categories if current.get(c, 0) and not reference.get(c, 0)],
        "vanished": [c for c in categories if reference.get(c, 0) and not current.get(c, 0)],
        "moved": {
            categories[i]: {"ref_share": float(ref_share[i]), "cur_share": float(cur_share[i])}
            for i in moved
        },
    }
    return scored_feature(name, "psi", psi(ref, cur), threshold, extra=extra, kind="mix")


def _matrix(
    transitions: Mapping[str, Mapping[str, int]], sources: list[str], targets: list[str]
) -> np.ndarray:
    return np.array(
        [[transitions.get(s, {}).get(t, 0) for t in targets] for s in sources], dtype=float
    )


def _conditionals(counts: np.ndarray) -> np.ndarray:
    """Rows of P(target | source); a source never seen is uniform (nothing known about it)."""
    rows = counts.sum(axis=1, keepdims=True)
    uniform = np.full(counts.shape[1], 1.0 / counts.shape[1])
    return np.where(rows > 0, counts / np.where(rows > 0, rows, 1.0), uniform)


def transition_probabilities(
    transitions: Mapping[str, Mapping[str, int]], sources: list[str], targets: list[str]
) -> np.ndarray:
    """P(target | source) as a [sources, targets] matrix (for reports)."""
    return _conditionals(_matrix(transitions, sources, targets))


def transition_states(*profiles: Profile) -> tuple[list[str], list[str]]:
    """Sources and targets seen in any of the profiles' transitions, SESSION_START first and
    SESSION_END last."""
    sources = {s for p in profiles for s in p.transitions}
    targets = {t for p in profiles for row in p.transitions.values() for t in row}
    order = {SESSION_START: "", SESSION_END: "\uffff"}
    return (
        sorted(sources, key=lambda s: order.get(s, s)),
        sorted(targets, key=lambda t: order.get(t, t)),
    )


def compare_transitions(
    reference: Profile, current: Profile, threshold: float = DEFAULT_THRESHOLD
) -> list[FeatureDrift]:
    """Drift of what follows what inside sessions, independent of how often each event occurs.

    `event_transitions`: for every source state, PSI between P(next event | source) in the two
    windows, averaged with weights = the source's share of transitions (mean of both windows;
    a source seen in one window only is compared with a uniform next event);
    extras are the same average of JS distance and total variation and the (source -> target)
    pairs whose probability moved most. Then one `next_after_<source>` feature per source with
    enough transitions in both windows (see `noise_psi`): a rare step such as checkout -> purchase
    weighs little in the average but is scored on its own there.
    """
    sources, targets = transition_states(reference, current)
    ref_counts = _matrix(reference.transitions, sources, targets)
    cur_counts = _matrix(current.transitions, sources, targets)
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        raise EmptyWindowError("no transitions to compare")
    ref_n, cur_n = ref_counts.sum(axis=1), cur_counts.sum(axis=1)
    weights = (ref_n / ref_n.sum() + cur_n / cur_n.sum()) / 2
    ref_p, cur_p = _conditionals(ref_counts), _conditionals(cur_counts)
    per_psi = np.array([psi(r, c) for r, c in zip(ref_counts, cur_counts, strict=True)])
    per_js = np.array([js_distance(r, c) for r, c in zip(ref_p, cur_p, strict=True)])
    per_tv = 0.5 * np.abs(cur_p - ref_p).sum(axis=1)
    overall = scored_feature(
        "event_transitions",
        "transition_psi",
        float(weights @ per_psi),
        threshold,
        extra={
            "js": float(weights @ per_js),
            "total_variation": float(weights @ per_tv),
            "moved": _moved_pairs(sources, targets, ref_p, cur_p, 5),
        },
        kind="sequence",
    )
    per_source = []
    for i, source in enumerate(sources):
        k = int(((ref_counts[i] > 0) | (cur_counts[i] > 0)).sum())
        noise = noise_psi(k, ref_n[i], cur_n[i])
        if noise > threshold * NOISE_SHARE:
            continue
        extra = {
            "js": float(per_js[i]),
            "total_variation": float(per_tv[i]),
            "noise_psi": noise,
            "n_ref": int(ref_n[i]),
            "n_cur": int(cur_n[i]),
            "moved": _moved_pairs([source], targets, ref_p[i : i + 1], cur_p[i : i + 1], 3),
        }
        name = "session_first_event" if source == SESSION_START else f"next_after_{source}"
        per_source.append(
            scored_feature(name, "psi", per_psi[i], threshold, extra=extra, kind="sequence")
        )
    return [overall, *per_source]


def _moved_pairs(
    sources: list[str], targets: list[str], ref_p: np.ndarray, cur_p: np.ndarray, k: int
) -> list[dict[str, Any]]:
    """The k (source -> target) probabilities that changed most."""
    diff = np.abs(cur_p - ref_p)
    order = np.argsort(-diff, axis=None)[:k]
    return [
        {
            "source": sources[i],
            "target": targets[j],
            "ref_p": float(ref_p[i, j]),
            "cur_p": float(cur_p[i, j]),
        }
        for i, j in zip(*np.unravel_index(order, diff.shape), strict=True)
    ]


def compare_profiles(
    reference: Profile, current: Profile, threshold: float = DEFAULT_THRESHOLD
) -> DriftResult:
    """Every part of two profiles compared; `current` must be binned with `reference`'s edges.

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
        compare_mix(f"{dim}_mix", reference.mix.get(dim, {}), current.mix.get(dim, {}), threshold)
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
    return DriftResult(features, threshold, reference.summary(), current.summary())


def compare_scores(
    reference_scores: Sequence[float] | np.ndarray,
    current_scores: Sequence[float] | np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    name: str = "prediction_score",
) -> FeatureDrift:
    """Drift of the champion's score distribution: PSI over the reference scores' deciles,
    with JS and Wasserstein distance (in score units) as extras."""
    ref = np.asarray(reference_scores, dtype=float)
    cur = np.asarray(current_scores, dtype=float)
    if not np.isfinite(ref).any() or not np.isfinite(cur).any():
        raise ValueError("compare_scores needs scores on both sides")
    ref_hist = Histogram.from_values(ref)
    cur_hist = Histogram.from_values(cur, edges=ref_hist.edges)
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
