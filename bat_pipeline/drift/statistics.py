"""Effect sizes of two count vectors over the same bins: PSI (the primary score), Jensen–Shannon
distance, and the PSI that sampling noise alone gives at the two windows' sizes (`null_psi`),
which every threshold is raised to. No p-values: on millions of events they flag shifts too
small to matter, so a shift must also pass a fixed floor of materiality."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2

#: epsilon smoothing of PSI, as a pseudo-count added to every bin of both windows: an empty
#: bin then has a share of about 0.5 / n, so PSI stays finite when a bin or category appears in
#: one window only, and a rare category that a small window happens to miss is not scored as
#: if its share had fallen to a fixed tiny epsilon.
PSEUDO_COUNT = 0.5
#: random groups of users (by a hash of user_id) counted apart in every profile: the spread of
#: the shares between groups is the window's sampling noise, clustering of events included.
USER_GROUPS = 20
#: share of calm windows whose PSI may exceed a signal's noise limit (`NullPSI.limit`).
FALSE_ALARM_RATE = 0.001
#: pairs of windows simulated under no change for `null_psi` (fixed seed: same counts, same
#: thresholds).
NULL_DRAWS = 400
_NULL_SEED = 20260105


def shares(counts: Sequence[float] | np.ndarray) -> np.ndarray | None:
    """Counts as shares summing to 1; None when there is nothing counted."""
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    return c / total if total > 0 else None


def _psi_rows(ref: np.ndarray, cur: np.ndarray, pseudo_count: float) -> np.ndarray:
    """PSI of each row pair of two [rows, bins] count arrays; a bin empty in both windows of a
    row is left out of that row (it says nothing, and smoothing it would invent a shift)."""
    used = (ref > 0) | (cur > 0)
    r = np.where(used, ref + pseudo_count, 0.0)
    c = np.where(used, cur + pseudo_count, 0.0)
    r = r / np.maximum(r.sum(axis=1, keepdims=True), 1e-300)
    c = c / np.maximum(c.sum(axis=1, keepdims=True), 1e-300)
    ratio = np.where(used, c / np.where(used, r, 1.0), 1.0)
    return np.sum((c - r) * np.log(ratio), axis=1)


def psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    pseudo_count: float = PSEUDO_COUNT,
) -> float:
    """Population stability index of two count vectors over the same bins.

    sum((c - r) * ln(c / r)) over the shares after adding `pseudo_count` to every bin counted in
    either window (epsilon smoothing), so a bin empty on one side is scored instead of dividing
    by zero; bins empty on both sides are left out. 0 = identical; about 0.1 is a small shift,
    0.2 a material one, above 0.25 a large one.
    """
    if len(reference) != len(current) or len(reference) == 0:
        raise ValueError("PSI needs two count vectors over the same, non-empty bins")
    ref = np.asarray(reference, dtype=float)[None, :]
    cur = np.asarray(current, dtype=float)[None, :]
    return float(_psi_rows(ref, cur, pseudo_count)[0])


def js_distance(reference: Sequence[float], current: Sequence[float]) -> float:
    """Jensen–Shannon distance (base 2) of two count vectors over the same bins, in [0, 1].

    A side with nothing counted is as far as can be from one with counts (1.0); two empty
    sides are equal (0.0)."""
    r, c = shares(reference), shares(current)
    if r is None or c is None:
        return 0.0 if r is None and c is None else 1.0
    return float(np.clip(jensenshannon(r, c, base=2), 0.0, 1.0))


def design_effect(groups: Sequence[Sequence[float]] | np.ndarray) -> float | None:
    """How many times more the shares of one window vary than if every count were independent.

    `groups` holds the window's counts per random group of users ([groups, bins]). The spread
    of the groups' shares around the window's shares (random-group variance) over the
    multinomial variance, summed over bins weighted by 1 / share (as PSI weighs them); at least
    1. Events of one customer are alike (one device, one channel, one habit), so a window of
    many events from few customers is noisier than its event count says. None when fewer than
    two groups or bins hold counts.
    """
    g = np.asarray(groups, dtype=float)
    g = g[g.sum(axis=1) > 0][:, g.sum(axis=0) > 0]
    if g.shape[0] < 2 or g.shape[1] < 2:
        return None
    n_g = g.sum(axis=1)
    n = n_g.sum()
    p = g.sum(axis=0) / n
    spread = (n_g[:, None] / n) ** 2 * (g / n_g[:, None] - p) ** 2
    variance = spread.sum(axis=0) * g.shape[0] / (g.shape[0] - 1)
    return max(1.0, float(np.sum(variance / p) * n / (g.shape[1] - 1)))


def group_matrix(cells: Mapping[str, Mapping[int, float]], groups: int = USER_GROUPS) -> np.ndarray:
    """{bin: {group number: count}} as the [groups, bins] array `design_effect` reads."""
    out = np.zeros((groups, len(cells)))
    for j, by_group in enumerate(cells.values()):
        for g, n in by_group.items():
            out[g, j] += n
    return out


@dataclass(frozen=True)
class NullPSI:
    """What PSI two windows of given sizes show when nothing changed.

    `mean` is the PSI expected from sampling noise alone; `limit` the PSI that calm windows stay
    below with probability 1 - FALSE_ALARM_RATE (a signal's threshold is never lower);
    `n_ref` / `n_cur` the effective sizes (counts / design effect) it was simulated with.
    """

    mean: float
    limit: float
    n_ref: float
    n_cur: float


def null_psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    deff_reference: float | None = None,
    deff_current: float | None = None,
) -> NullPSI:
    """The PSI of `reference` and `current` counts under no change (see `null_draws`)."""
    return summarise_null(*null_draws(reference, current, deff_reference, deff_current))


def null_draws(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    deff_reference: float | None = None,
    deff_current: float | None = None,
    stream: int = 0,
) -> tuple[np.ndarray, float, float]:
    """NULL_DRAWS PSIs of two windows like these in which nothing changed, and the windows'
    effective sizes.

    Both windows are drawn from their pooled shares with their effective sizes (counts / design
    effect; a window whose design effect is unknown borrows the other's, 1 if neither is
    known), scaled back to their counts and scored as `psi` scores them. `stream` picks an
    independent random stream (seeded: same counts, same draws).
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    used = (ref > 0) | (cur > 0)
    ref, cur = ref[used], cur[used]
    n_ref, n_cur = float(ref.sum()), float(cur.sum())
    d_ref = deff_reference or deff_current or 1.0
    d_cur = deff_current or deff_reference or 1.0
    eff_ref, eff_cur = n_ref / d_ref, n_cur / d_cur
    if used.sum() < 2 or n_ref <= 0 or n_cur <= 0:
        return np.zeros(NULL_DRAWS), eff_ref, eff_cur
    pooled = (ref + cur) / (n_ref + n_cur)
    rng = np.random.default_rng([_NULL_SEED, stream])
    draws = []
    for n, eff in ((n_ref, eff_ref), (n_cur, eff_cur)):
        m = max(1, round(eff))
        draws.append(rng.multinomial(m, pooled, size=NULL_DRAWS) * (n / m))
    return _psi_rows(draws[0], draws[1], PSEUDO_COUNT), eff_ref, eff_cur


def summarise_null(values: np.ndarray, n_ref: float, n_cur: float) -> NullPSI:
    """`NullPSI` of simulated calm PSIs: `limit` is the (1 - FALSE_ALARM_RATE) quantile of a
    scaled chi-squared fitted to their mean and variance (smoother than their own extreme)."""
    mean, var = float(np.mean(values)), float(np.var(values))
    if mean <= 0 or var <= 0:
        return NullPSI(max(mean, 0.0), max(mean, 0.0), n_ref, n_cur)
    dof = 2 * mean**2 / var
    limit = float(var / (2 * mean) * chi2.ppf(1 - FALSE_ALARM_RATE, dof))
    return NullPSI(mean, limit, n_ref, n_cur)
