"""The noise a drift threshold is calibrated against: PSI leaves out bins nobody used, the design
effect sees customers whose events are alike, and the simulated noise limit holds calm windows
below it about as often as it promises — and only with the design effect."""

from __future__ import annotations

import numpy as np
import pytest

from bat_pipeline.drift.statistics import (
    USER_GROUPS,
    design_effect,
    null_psi,
    psi,
)


def test_psi_leaves_out_bins_empty_in_both_windows() -> None:
    # one next event always (a source with a single target): identical, whatever the counts
    assert psi([30, 0, 0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0, 0, 0]) == 0.0
    assert psi([8, 2, 0, 0, 0], [2, 8, 0, 0, 0]) == pytest.approx(psi([8, 2], [2, 8]))


def test_design_effect_is_one_for_independent_events_and_large_for_alike_ones() -> None:
    rng = np.random.default_rng(3)
    p = np.array([0.5, 0.3, 0.2])
    independent = rng.multinomial(300, p, size=USER_GROUPS)
    assert design_effect(independent) < 1.6
    # each group of customers sticks to one category (one device, one channel)
    alike = np.zeros((USER_GROUPS, 3))
    alike[np.arange(USER_GROUPS), rng.choice(3, USER_GROUPS, p=p)] = 300
    assert design_effect(alike) > 50
    assert design_effect(alike[:1]) is None  # one group: no spread to measure


def test_null_psi_is_the_chi_squared_expectation_scaled_by_the_design_effect() -> None:
    ref, cur = np.array([2000, 1000, 600, 400]), np.array([500, 250, 150, 100])
    plain = null_psi(ref, cur)
    expected = 3 * (1 / 4000 + 1 / 1000)  # (bins - 1) * (1/n_ref + 1/n_cur)
    assert plain.mean == pytest.approx(expected, rel=0.2)
    assert plain.limit > 3 * plain.mean
    clustered = null_psi(ref, cur, 4.0, 4.0)
    assert clustered.mean == pytest.approx(4 * plain.mean, rel=0.25)
    assert (clustered.n_ref, clustered.n_cur) == (1000, 250)
    # a reference profile without design effect borrows the current window's
    assert null_psi(ref, cur, None, 4.0).n_ref == 1000
    assert null_psi(ref, ref) == null_psi(ref, ref)  # seeded: same counts, same threshold


def clustered_window(rng: np.random.Generator, users: int) -> np.ndarray:
    """[groups, categories] counts of a window whose customers mostly stick to one category
    (their favourite, 85 % of their 2-20 events), users in USER_GROUPS random groups."""
    p = np.array([0.45, 0.3, 0.15, 0.1])
    favourite = rng.choice(4, users, p=p)
    events = rng.integers(2, 21, users)
    mixes = 0.85 * np.eye(4)[favourite] + 0.15 * p
    counts = np.array([rng.multinomial(n, m) for n, m in zip(events, mixes, strict=True)])
    groups = rng.integers(0, USER_GROUPS, users)
    return np.array([counts[groups == g].sum(axis=0) for g in range(USER_GROUPS)])


def test_the_noise_limit_holds_calm_windows_of_alike_events() -> None:
    """Calm windows of 300 and 75 customers: the limit from counts and design effects is
    exceeded rarely; the same limit from counts alone (every event independent) often."""
    rng = np.random.default_rng(12)
    with_deff = without = 0
    trials = 300
    for _ in range(trials):
        ref, cur = clustered_window(rng, 300), clustered_window(rng, 75)
        r, c = ref.sum(axis=0), cur.sum(axis=0)
        score = psi(r, c)
        with_deff += score > null_psi(r, c, design_effect(ref), design_effect(cur)).limit
        without += score > null_psi(r, c).limit
    assert with_deff / trials <= 0.02
    assert without / trials >= 0.3
