"""Drift of what follows what inside sessions: P(next event | event) in two windows.

Scored as a whole (`event_transitions`) and per source event (`next_after_checkout`...), so a
rare but telling step such as checkout -> purchase is not drowned by the frequent ones. Each
score's threshold is raised to the PSI its counts show under no change (`statistics`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bat_pipeline.drift.profiles import SESSION_END, SESSION_START, Profile
from bat_pipeline.drift.results import (
    DEFAULT_THRESHOLD,
    EmptyWindowError,
    FeatureDrift,
    scored_feature,
)
from bat_pipeline.drift.statistics import js_distance, null_draws, psi, summarise_null

#: largest noise limit (`NullPSI.limit`) at which a per-source transition feature is still
#: scored; beyond it the windows hold so few transitions from that source that only a
#: near-total change could show (PSI 1 is e.g. a 20 % step becoming a 67 % one).
MAX_NOISE_LIMIT = 1.0


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

    `event_transitions`: for every source state, PSI between the next-event counts in the two
    windows, averaged with weights = the source's share of transitions (mean of both windows);
    its noise is the same average of the sources' simulated calm PSIs. Extras are the same
    average of JS distance and total variation and the (source -> target) pairs whose
    probability moved most. Then one `next_after_<source>` feature per source seen in both
    windows whose noise limit stays within MAX_NOISE_LIMIT: a rare step such as
    checkout -> purchase weighs little in the average but is scored on its own there.
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
    draws = [
        null_draws(
            ref_counts[i],
            cur_counts[i],
            reference.transition_deff.get(source),
            current.transition_deff.get(source),
            stream=i,
        )
        for i, source in enumerate(sources)
    ]
    overall = scored_feature(
        "event_transitions",
        "transition_psi",
        float(weights @ per_psi),
        threshold,
        summarise_null(
            weights @ np.array([d[0] for d in draws]),
            float(sum(d[1] for d in draws)),
            float(sum(d[2] for d in draws)),
        ),
        extra={
            "js": float(weights @ per_js),
            "total_variation": float(weights @ per_tv),
            "moved": _moved_pairs(sources, targets, ref_p, cur_p, 5),
        },
        kind="sequence",
    )
    per_source = []
    for i, source in enumerate(sources):
        noise = summarise_null(*draws[i])
        if ref_n[i] == 0 or cur_n[i] == 0 or noise.limit > MAX_NOISE_LIMIT:
            continue
        extra = {
            "js": float(per_js[i]),
            "total_variation": float(per_tv[i]),
            "n_ref": int(ref_n[i]),
            "n_cur": int(cur_n[i]),
            "moved": _moved_pairs([source], targets, ref_p[i : i + 1], cur_p[i : i + 1], 3),
        }
        name = "session_first_event" if source == SESSION_START else f"next_after_{source}"
        per_source.append(
            scored_feature(name, "psi", per_psi[i], threshold, noise, extra=extra, kind="sequence")
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
