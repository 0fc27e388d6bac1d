"""Effect sizes of two count vectors over the same bins: PSI (the primary score), Jensen–Shannon
distance, and the PSI that sampling noise alone would give. No p-values: on millions of
events they flag shifts too small to matter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.distance import jensenshannon

#: epsilon smoothing of PSI, as a pseudo-count added to every bin of both windows: an empty
#: bin then has a share of about 0.5 / n, so PSI stays finite when a bin or category appears in
#: one window only, and a rare category that a small window happens to miss is not scored as
#: if its share had fallen to a fixed tiny epsilon.
PSEUDO_COUNT = 0.5
#: largest expected noise PSI (`noise_psi`), as a share of the threshold, at which a per-source
#: transition feature is still scored; beyond it the windows hold too few transitions from that
#: source to tell a shift from chance.
NOISE_SHARE = 0.25


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


def noise_of(reference: Sequence[float], current: Sequence[float]) -> float:
    r, c = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    return noise_psi(int(((r > 0) | (c > 0)).sum()), r.sum(), c.sum())
