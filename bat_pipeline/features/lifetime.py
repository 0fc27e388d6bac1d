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
