"""A sample's lifetime history at its cutoff: what the traditional baselines learn from, and
the network's context beside the sequence (recency, tenure, counts, value, gaps, windowed counts
over everything the user did before the cutoff, nothing at or after it)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np

from bat_pipeline.data.sqlfiles import query

#: the columns of sql/queries/sample_lifetime.sql, in the order the model reads them
LIFETIME_COLUMNS = (
    "recency_days",
    "tenure_days",
    "target_recency_days",
    "active_days",
    "events",
    "targets",
    "value",
    "last_gap_days",
    "mean_gap_days",
    "last_target_gap_days",
    "mean_target_gap_days",
    "events_7d",
    "events_14d",
    "events_28d",
    "events_56d",
    "targets_7d",
    "targets_14d",
    "targets_28d",
    "targets_56d",
    "value_28d",
)
#: quantile bins per lifetime feature in its piecewise-linear encoding
PIECEWISE_BINS = 8


def lifetime_features(
    con: duckdb.DuckDBPyConnection,
    target_event: str,
    names: Sequence[str] = LIFETIME_COLUMNS,
) -> np.ndarray:
    """Unscaled float32 [n, len(names)]: each registered sample's lifetime history at its
    cutoff, in sample order."""
    frame = con.execute(query("sample_lifetime"), {"target_event": target_event}).df()
    return frame[list(names)].to_numpy(dtype=np.float32)


def fit_lifetime_scaler(train: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean and standard deviation of log1p(x) per lifetime feature, over the train split only
    (a constant feature gets 1, so it scales to 0)."""
    if train.shape[0] == 0:
        return [0.0] * train.shape[1], [1.0] * train.shape[1]
    logged = np.log1p(train.astype(np.float64))
    std = logged.std(axis=0)
    return logged.mean(axis=0).tolist(), [float(s) if s > 0 else 1.0 for s in std]


def scale_lifetime(raw: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """log1p, then standardised with the train split's parameters; not clipped, so a longer
    recency or tenure than any seen in training still reads as longer."""
    logged = np.log1p(raw.astype(np.float64))
    return ((logged - np.asarray(mean)) / np.asarray(std)).astype(np.float32)


def fit_piecewise_edges(train: np.ndarray, bins: int = PIECEWISE_BINS) -> list[list[float]]:
    """Per lifetime feature, its distinct quantiles at 0, 1/bins, ..., 1 over the train split:
    the bin edges of its piecewise-linear encoding (a count that is mostly 0 gets fewer bins)."""
    if train.shape[0] == 0:
        return [[] for _ in range(train.shape[1])]
    levels = np.linspace(0.0, 1.0, bins + 1)
    return [np.unique(np.quantile(column, levels)).tolist() for column in train.T.astype(float)]


def piecewise_linear(raw: np.ndarray, edges: Sequence[Sequence[float]]) -> np.ndarray:
    """float32 [n, bins in all]: for each feature and each bin (lo, hi] of its edges, 0 below
    the bin, 1 above it and the fraction in between. A linear term of this is a free-form
    curve per feature, which lets the network model "how long since the last purchase" as
    finely as gradient-boosted trees split it (piecewise-linear encoding, Gorishniy et al.,
    "On Embeddings for Numerical Features in Tabular Deep Learning", 2022)."""
    blocks = []
    for j, feature_edges in enumerate(edges):
        bounds = np.asarray(feature_edges, dtype=np.float64)
        if bounds.size < 2:
            continue
        low, high = bounds[:-1], bounds[1:]
        x = raw[:, j : j + 1].astype(np.float64)
        blocks.append(np.clip((x - low) / (high - low), 0.0, 1.0).astype(np.float32))
    if not blocks:
        return np.zeros((raw.shape[0], 0), np.float32)
    return np.concatenate(blocks, axis=1)


def piecewise_names(names: Sequence[str], edges: Sequence[Sequence[float]]) -> list[str]:
    """One name per column of `piecewise_linear`: the feature and the lower edge of its bin."""
    return [
        f"lifetime.{name}>{low:g}"
        for name, feature_edges in zip(names, edges, strict=True)
        for low in feature_edges[:-1]
    ]
