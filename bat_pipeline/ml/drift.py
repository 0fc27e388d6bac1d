"""Drift between two windows of customer events, measured as effect sizes (DESIGN.md section 4).

A `Profile` summarises one window of events: histograms of per-user-day behaviour features
(binned with the reference window's quantile edges), the mix of categorical columns, and what
happens *inside* sessions: transition counts between event types, session lengths and the time
between consecutive events. `compare_profiles` scores every part with the population stability
index (PSI, the primary score, compared with a threshold) and reports the Jensen–Shannon distance
and, where quantiles are known, the Wasserstein distance beside it. No p-values: on millions of
events they flag shifts too small to matter. Transitions are scored as a whole and per source
event (`next_after_checkout`...), so a rare but telling step such as checkout -> purchase is not
drowned by the frequent ones.

Pure numpy/scipy; `bat_pipeline.drift_profile` builds profiles from DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

DEFAULT_THRESHOLD = 0.2
#: epsilon smoothing of PSI, as a pseudo-count added to every bin of both windows: an empty
#: bin then has a share of about 0.5 / n, so PSI stays finite when a bin or category appears in
#: one window only, and a rare category that a small window happens to miss is not scored as
#: if its share had fallen to a fixed tiny epsilon.
PSEUDO_COUNT = 0.5
#: reference quantiles used as bin edges: deciles, so at most 10 bins (fewer when tied).
EDGE_PROBS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: quantiles stored with each histogram (0 %, 1 %, ..., 100 %) for the Wasserstein distance.
QUANTILE_PROBS: tuple[float, ...] = tuple(i / 100 for i in range(101))
_EDGE_INDEX = [QUANTILE_PROBS.index(p) for p in EDGE_PROBS]
#: pseudo event types that open and close every session in the transition counts.
SESSION_START = "<start>"
SESSION_END = "<end>"
#: category name for an empty categorical value.
MISSING = "(missing)"
#: largest expected noise PSI (`noise_psi`), as a share of the threshold, at which a per-source
#: transition feature is still scored; beyond it the windows hold too few transitions from that
#: source to tell a shift from chance.
NOISE_SHARE = 0.25
PROFILE_VERSION = 1
#: higher-is-better metrics compared by `realised_performance`; log loss is lower-is-better.
_HIGHER_IS_BETTER = ("accuracy", "balanced_accuracy", "auc")


class EmptyWindowError(ValueError):
    """A window to compare holds no events: broken or missing data, not drift."""


# --------------------------------------------------------------------------------- histograms


@dataclass(frozen=True)
class Histogram:
    """Counts of one numeric quantity in fixed bins.

    Bin i holds `edges[i-1] < x <= edges[i]` (the first bin is open below, the last open
    above), so there is one count more than edges. `missing` counts undefined values (e.g.
    value per purchase on a day without purchases). `quantiles` are the 0 %, 1 %, ..., 100 %
    points of the defined values and `mean` their mean; both None when there are none.
    """

    edges: list[float]
    counts: list[int]
    missing: int = 0
    quantiles: list[float] | None = None
    mean: float | None = None

    @classmethod
    def from_values(
        cls,
        values: Sequence[float] | np.ndarray,
        weights: Sequence[float] | np.ndarray | None = None,
        edges: Sequence[float] | None = None,
    ) -> Histogram:
        """Histogram of `values` (NaN = missing), each counted `weights` times (default once).

        Without `edges` the deciles of the defined values become the edges (ties merged); pass
        the reference's edges to bin another window the same way.
        """
        # sorted once: quantiles and bin counts are then binary searches, not passes over x
        xs, ws, missing = _sorted_defined(values, weights)
        cum = np.cumsum(ws)
        quantiles = _quantiles(xs, cum, QUANTILE_PROBS) if xs.size else None
        if edges is None:
            edges = np.unique(quantiles[_EDGE_INDEX]) if quantiles is not None else []
        edges_arr = np.asarray(edges, dtype=float)
        total = float(cum[-1]) if xs.size else 0.0
        # weight of the values <= each edge, then per bin (right-closed, see class docstring)
        below = np.concatenate([[0.0], cum])[np.searchsorted(xs, edges_arr, side="right")]
        counts = np.diff(np.concatenate([[0.0], below, [total]]))
        return cls(
            edges=[float(e) for e in edges_arr],
            counts=[round(c) for c in counts],
            missing=missing,
            quantiles=None if quantiles is None else [float(q) for q in quantiles],
            mean=float(np.dot(xs, ws) / total) if xs.size else None,
        )

    @property
    def total(self) -> int:
        """Values counted, missing ones included."""
        return sum(self.counts) + self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": self.edges,
            "counts": self.counts,
            "missing": self.missing,
            "quantiles": self.quantiles,
            "mean": self.mean,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        return cls(
            edges=[float(e) for e in data["edges"]],
            counts=[int(c) for c in data["counts"]],
            missing=int(data.get("missing", 0)),
            quantiles=data.get("quantiles"),
            mean=data.get("mean"),
        )


def _sorted_defined(
    values: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """The finite values sorted, their weights in the same order, and the weight of the rest."""
    x = np.asarray(values, dtype=float)
    defined = np.isfinite(x)
    if weights is None:
        xs = np.sort(x[defined])
        return xs, np.ones_like(xs), int((~defined).sum())
    w = np.asarray(weights, dtype=float)
    order = np.argsort(x[defined])
    return x[defined][order], w[defined][order], round(float(w[~defined].sum()))


def _quantiles(xs: np.ndarray, cum: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """Quantiles of sorted values `xs` with cumulative weights `cum` that are observed values
    (inverted CDF: the smallest x whose share of weight at or below it reaches p)."""
    # the tiny slack keeps p * total = 7.000000000000001 from skipping the 7th value
    targets = np.asarray(probs) * cum[-1] * (1 - 1e-12)
    return xs[np.minimum(np.searchsorted(cum, targets, side="left"), xs.size - 1)]


# ----------------------------------------------------------------------------------- profiles


@dataclass
class Profile:
    """What one window of events [start, end] (dates inclusive, UTC) looked like.

    - `features`: per-user-day behaviour features (name -> histogram; one value per user and
      active day, so windows of different lengths compare like with like);
    - `mix`: {dimension: {category: events}} for event_type, device and channel, exact;
    - `transitions`: {source: {target: count}} of consecutive events within sessions;
      SESSION_START is the source of each session's first event, SESSION_END the target after
      its last;
    - `session_length`: events per session; `inter_event_gap`: log2(1 + seconds) between
      consecutive events of a session;
    - `n_events` (exact), `n_user_days` and `n_sessions` (in the sample), `sample_rate` (share
      of users profiled, 1.0 = all; users are picked by a hash of user_id).
    """

    start: date
    end: date
    n_events: int
    n_user_days: int
    n_sessions: int
    features: dict[str, Histogram]
    mix: dict[str, dict[str, int]]
    transitions: dict[str, dict[str, int]]
    session_length: Histogram
    inter_event_gap: Histogram
    sample_rate: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (dates as ISO strings); `from_dict` reads it back."""
        return {
            "version": PROFILE_VERSION,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_events": self.n_events,
            "n_user_days": self.n_user_days,
            "n_sessions": self.n_sessions,
            "sample_rate": self.sample_rate,
            "features": {name: h.to_dict() for name, h in self.features.items()},
            "mix": self.mix,
            "transitions": self.transitions,
            "session_length": self.session_length.to_dict(),
            "inter_event_gap": self.inter_event_gap.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        version = data.get("version")
        if version != PROFILE_VERSION:
            raise ValueError(f"profile version {version!r} is not {PROFILE_VERSION}; rebuild it")
        return cls(
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            n_events=int(data["n_events"]),
            n_user_days=int(data["n_user_days"]),
            n_sessions=int(data["n_sessions"]),
            sample_rate=float(data.get("sample_rate", 1.0)),
            features={k: Histogram.from_dict(v) for k, v in data["features"].items()},
            mix={dim: {c: int(n) for c, n in cats.items()} for dim, cats in data["mix"].items()},
            transitions={
                s: {t: int(n) for t, n in row.items()} for s, row in data["transitions"].items()
            },
            session_length=Histogram.from_dict(data["session_length"]),
            inter_event_gap=Histogram.from_dict(data["inter_event_gap"]),
        )

    def summary(self) -> dict[str, Any]:
        """The window and its sizes, for reports."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_events": self.n_events,
            "n_user_days": self.n_user_days,
            "n_sessions": self.n_sessions,
            "sample_rate": self.sample_rate,
        }


# ------------------------------------------------------------------------------ effect sizes


def shares(counts: Sequence[float] | np.ndarray) -> np.ndarray | None:
    """Counts as shares summing to 1; None when there is nothing counted."""
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    return c / total if total > 0 else None


def _smoothed(counts: Sequence[float] | np.ndarray, pseudo_count: float) -> np.ndarray:
    c = np.asarray(counts, dtype=float) + pseudo_count
    return c / c.sum()


def psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    pseudo_count: float = PSEUDO_COUNT,
) -> float:
    """Population stability index of two count vectors over the same bins.

    sum((c - r) * ln(c / r)) over the shares after adding `pseudo_count` to every bin (epsilon
    smoothing), so bins empty on one side are scored instead of dividing by zero.
    0 = identical; about 0.1 is a small shift, 0.2 a material one, above 0.25 a large one.
    """
    if len(reference) != len(current) or len(reference) == 0:
        raise ValueError("PSI needs two count vectors over the same, non-empty bins")
    r, c = _smoothed(reference, pseudo_count), _smoothed(current, pseudo_count)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(reference: Sequence[float], current: Sequence[float]) -> float:
    """Jensen–Shannon distance (base 2) of two count vectors over the same bins, in [0, 1]."""
    r, c = shares(reference), shares(current)
    if r is None or c is None:
        raise ValueError("Jensen–Shannon distance needs counts on both sides")
    return float(np.clip(jensenshannon(r, c, base=2), 0.0, 1.0))


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class FeatureDrift:
    """How far one feature moved between the windows.

    `score` is the primary effect size (by `method`, PSI throughout) and `drifted` says whether
    it is above `threshold`. `kind` groups features for reports (feature, mix, sequence,
    prediction); `extra` holds secondary effect sizes (js, wasserstein) and summaries.
    """

    name: str
    method: str
    score: float
    threshold: float
    drifted: bool
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "feature"

    @property
    def severity(self) -> float:
        """score / threshold: above 1 means drifted; what features are ranked by."""
        return self.score / self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "kind": self.kind,
            "extra": self.extra,
        }


def _feature(name: str, method: str, score: float, threshold: float, **kw: Any) -> FeatureDrift:
    if threshold <= 0:
        raise ValueError(f"a drift threshold must be positive, got {threshold}")
    return FeatureDrift(name, method, float(score), threshold, bool(score > threshold), **kw)


@dataclass
class DriftResult:
    """The outcome of comparing a current window with a reference window.

    `features` is sorted most drifted first (by score / threshold); `reference` and `current`
    describe the two windows (dates, sizes).
    """

    features: list[FeatureDrift]
    threshold: float = DEFAULT_THRESHOLD
    reference: dict[str, Any] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.features = sorted(self.features, key=lambda f: (-f.severity, f.name))

    @property
    def drift_detected(self) -> bool:
        return any(f.drifted for f in self.features)

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.drifted]

    def top_features(self, k: int = 3) -> list[FeatureDrift]:
        """The k features that moved most, drifted or not."""
        return self.features[:k]

    def with_features(self, *more: FeatureDrift) -> DriftResult:
        """This result with more features (e.g. `compare_scores`), re-sorted."""
        return DriftResult([*self.features, *more], self.threshold, self.reference, self.current)

    @property
    def verdict(self) -> str:
        """One sentence: drifted or not, naming the features that moved most."""
        if not self.features:
            return "Nothing to compare."
        if self.drift_detected:
            moved = self.drifted[:3]
            head = (
                f"Drift detected in {len(self.drifted)} of {len(self.features)} features "
                f"(PSI above {self.threshold:g}); moved most: "
            )
        else:
            moved = self.features[:3]
            head = (
                f"No drift: all {len(self.features)} features within PSI {self.threshold:g}; "
                "moved most: "
            )
        return head + ", ".join(f"{f.name} ({f.method} {f.score:.3f})" for f in moved) + "."

    def to_dict(self) -> dict[str, Any]:
        """The `drift` JSON contract (DESIGN.md section 5) plus verdict and windows."""
        return {
            "drift_detected": self.drift_detected,
            "threshold": self.threshold,
            "verdict": self.verdict,
            "reference": self.reference,
            "current": self.current,
            "features": [f.to_dict() for f in self.features],
        }


# -------------------------------------------------------------------------------- comparisons


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
        "noise_psi": _noise_of(ref, cur),
        "wasserstein": wasserstein,
        "ref_mean": reference.mean,
        "cur_mean": current.mean,
        "ref_missing_share": reference.missing / reference.total,
        "cur_missing_share": current.missing / current.total,
    }
    return _feature(name, "psi", psi(ref, cur), threshold, extra=extra, kind=kind)


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
        "noise_psi": _noise_of(ref, cur),
        "unseen": [c for c in categories if current.get(c, 0) and not reference.get(c, 0)],
        "vanished": [c for c in categories if reference.get(c, 0) and not current.get(c, 0)],
        "moved": {
            categories[i]: {"ref_share": float(ref_share[i]), "cur_share": float(cur_share[i])}
            for i in moved
        },
    }
    return _feature(name, "psi", psi(ref, cur), threshold, extra=extra, kind="mix")


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
    overall = _feature(
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
            _feature(name, "psi", per_psi[i], threshold, extra=extra, kind="sequence")
        )
    return [overall, *per_source]


def noise_psi(bins: int, n_reference: float, n_current: float) -> float:
    """PSI that sampling noise alone gives on average: (bins - 1) * (1/n_ref + 1/n_cur).

    (n * PSI is about chi-squared with bins - 1 degrees of freedom when nothing changed.)
    Reported with every score so a reader can tell a shift from sampling noise; per-source
    transition features are scored only where it stays within NOISE_SHARE of the threshold, so
    rare event types with a handful of transitions do not raise false alarms.
    """
    if n_reference <= 0 or n_current <= 0:
        return float("inf")
    return float(max(bins - 1, 0) * (1.0 / n_reference + 1.0 / n_current))


def _noise_of(reference: Sequence[float], current: Sequence[float]) -> float:
    r, c = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    return noise_psi(int(((r > 0) | (c > 0)).sum()), r.sum(), c.sum())


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


# ------------------------------------------------------------------------ realised performance


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
    realised = _metrics(y, prob, decision_threshold)
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


def _metrics(y: np.ndarray, prob: np.ndarray, decision_threshold: float) -> dict[str, float | None]:
    from sklearn.metrics import log_loss, roc_auc_score

    both_classes = y.size > 0 and 0 < y.sum() < y.size
    predicted = (prob >= decision_threshold).astype(float)
    balanced = None
    if both_classes:
        recall_pos = float(predicted[y == 1].mean())
        recall_neg = float(1.0 - predicted[y == 0].mean())
        balanced = (recall_pos + recall_neg) / 2
    return {
        "accuracy": float((predicted == y).mean()) if y.size else None,
        "balanced_accuracy": balanced,
        "auc": float(roc_auc_score(y, prob)) if both_classes else None,
        "log_loss": float(log_loss(y, np.clip(prob, 1e-7, 1 - 1e-7), labels=[0, 1]))
        if y.size
        else None,
    }
