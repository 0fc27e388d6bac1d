"""Histograms of one numeric quantity per window, binned with the reference window's deciles
so that two windows compare bin by bin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bat_pipeline.drift.statistics import design_effect

#: reference quantiles used as bin edges: deciles, so at most 10 bins (fewer when tied).
EDGE_PROBS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: quantiles stored with each histogram (0 %, 1 %, ..., 100 %) for the Wasserstein distance.
QUANTILE_PROBS: tuple[float, ...] = tuple(i / 100 for i in range(101))
_EDGE_INDEX = [QUANTILE_PROBS.index(p) for p in EDGE_PROBS]


@dataclass(frozen=True)
class Histogram:
    """Counts of one numeric quantity in fixed bins.

    Bin i holds `edges[i-1] < x <= edges[i]` (the first bin is open below, the last open
    above), so there is one count more than edges. `missing` counts undefined values (e.g.
    value per purchase on a day without purchases). `quantiles` are the 0 %, 1 %, ..., 100 %
    points of the defined values and `mean` their mean; both None when there are none. `deff`
    is the design effect of the counts (`statistics.design_effect`, from random groups of
    users), None when unknown.
    """

    edges: list[float]
    counts: list[int]
    missing: int = 0
    quantiles: list[float] | None = None
    mean: float | None = None
    deff: float | None = None

    @classmethod
    def from_values(
        cls,
        values: Sequence[float] | np.ndarray,
        weights: Sequence[float] | np.ndarray | None = None,
        edges: Sequence[float] | None = None,
        groups: Sequence[int] | np.ndarray | None = None,
    ) -> Histogram:
        """Histogram of `values` (NaN = missing), each counted `weights` times (default once).

        Without `edges` the deciles of the defined values become the edges (ties merged); pass
        the reference's edges to bin another window the same way. `groups` (the random user
        group of each value) gives the design effect.
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
            deff=None if groups is None else _group_deff(values, weights, edges_arr, groups),
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
            "deff": self.deff,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        return cls(
            edges=[float(e) for e in data["edges"]],
            counts=[int(c) for c in data["counts"]],
            missing=int(data.get("missing", 0)),
            quantiles=data.get("quantiles"),
            mean=data.get("mean"),
            deff=data.get("deff"),
        )


def _group_deff(
    values: Sequence[float] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None,
    edges: np.ndarray,
    groups: Sequence[int] | np.ndarray,
) -> float | None:
    """Design effect of the bin counts (missing values as one more bin) per user group."""
    x = np.asarray(values, dtype=float)
    g = np.asarray(groups, dtype=np.int64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    bins = len(edges) + 2
    # right-closed bins as in `from_values`; the last column holds the missing values
    index = np.where(np.isfinite(x), np.searchsorted(edges, x, side="left"), bins - 1)
    size = (int(g.max()) + 1 if g.size else 1) * bins
    counts = np.bincount(g * bins + index, weights=w, minlength=size).reshape(-1, bins)
    return design_effect(counts)


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
