"""Point-in-time training samples and scoring inputs, read from the feature tables in bulk.

A sample is (user, cutoff t): the user's dense activity sequence over the `lookback` buckets
before t (nothing at or after t; buckets before the user's first event are zero padding, marked
0 in the `observed` channel), the context known before t (first device and channel, and the
lifetime history: recency, tenure, counts, value, gaps, windowed counts), and the label "does
the target happen in [t, t + horizon)". Rows reach numpy
through Arrow and are scattered into preallocated arrays: no per-row Python loops.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from bat_pipeline.config import TaskConfig
from bat_pipeline.data.sqlfiles import query
from bat_pipeline.features.cutoffs import (
    WEEK_ORIGIN,
    SampleError,
    choose_cutoffs,
    floor_to_bucket,
    keep_at_most,
    resolve_lookback_days,
    split_of_cutoffs,
)
from bat_pipeline.features.lifetime import (
    LIFETIME_COLUMNS,
    fit_lifetime_scaler,
    fit_piecewise_edges,
    lifetime_features,
    piecewise_linear,
    piecewise_names,
    scale_lifetime,
)
from bat_pipeline.ml.dataset import TRAIN, SampleSet

TOTAL_CHANNELS = ("events", "sessions", "value")
#: the last sequence channel: 1 for a bucket at or after the user's first event, 0 for padding
OBSERVED_CHANNEL = "observed"
STATIC_FIELDS = ("device", "channel")


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to turn the feature tables into model inputs the same way again."""

    event_types: list[str]
    bucket_days: int
    lookback_buckets: int
    lookback_days: int
    static_categories: dict[str, list[str]]
    scaler_max: list[float]
    # the lifetime context (empty for models trained before it existed): the target event its
    # counts are of, and log1p-then-standardise parameters fitted on the train split
    target_event: str = "purchase"
    lifetime_names: list[str] = field(default_factory=list)
    lifetime_mean: list[float] = field(default_factory=list)
    lifetime_std: list[float] = field(default_factory=list)
    # quantile edges per lifetime feature for its piecewise-linear encoding (empty: none)
    lifetime_edges: list[list[float]] = field(default_factory=list)
    # whether the sequence ends with the `observed` channel (False for models trained before
    # short histories were padded)
    observed_channel: bool = False

    @property
    def feature_names(self) -> list[str]:
        observed = [OBSERVED_CHANNEL] if self.observed_channel else []
        return [f"n_{t}" for t in self.event_types] + list(TOTAL_CHANNELS) + observed

    @property
    def static_names(self) -> list[str]:
        """The context vector's columns: one-hot device and channel, the lifetime features
        standardised, then their piecewise-linear encoding."""
        return self._plain_context_names + piecewise_names(self.lifetime_names, self.lifetime_edges)

    @property
    def context_summary(self) -> str:
        """The context inputs in one line (the full list of columns is long)."""
        bins = len(piecewise_names(self.lifetime_names, self.lifetime_edges))
        piecewise = f", piecewise-linear encoding ({bins} bins)" if bins else ""
        return ",".join(self._plain_context_names) + piecewise

    @property
    def _plain_context_names(self) -> list[str]:
        one_hot = [f"{k}={v}" for k, values in self.static_categories.items() for v in values]
        return one_hot + [f"lifetime.{name}" for name in self.lifetime_names]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> FeatureSpec:
        return cls(**raw)


def observed_mask(
    first_seen: pd.Series, cutoffs: pd.Series, lookback_buckets: int, bucket_days: int
) -> np.ndarray:
    """float32 [n, lookback_buckets]: 1 where the bucket starts at or after the bucket of the
    user's first event (what they really did, zeros included), 0 where the user did not exist
    yet (padding). Cutoffs are bucket starts."""
    first = pd.to_datetime(first_seen).dt.floor("D").to_numpy().astype("datetime64[D]")
    cutoff = pd.to_datetime(cutoffs).to_numpy().astype("datetime64[D]")
    origin = np.datetime64(WEEK_ORIGIN, "D")
    first_bucket = first - (first - origin).astype(np.int64) % bucket_days
    held = (cutoff - first_bucket).astype(np.int64) // bucket_days
    positions = np.arange(lookback_buckets)
    return (positions[None, :] >= (lookback_buckets - held)[:, None]).astype(np.float32)


def register_index(con: duckdb.DuckDBPyConnection, index: pd.DataFrame) -> None:
    table = pa.table(
        {
            "sample_idx": pa.array(np.arange(len(index), dtype=np.int64)),
            "user_id": pa.array(index["user_id"].astype(str).tolist(), pa.string()),
            "cutoff": pa.array(pd.to_datetime(index["cutoff"]).dt.date.tolist(), pa.date32()),
        }
    )
    con.register("sample_index", table)


def raw_sequences(
    con: duckdb.DuckDBPyConnection,
    n: int,
    event_types: list[str],
    lookback_buckets: int,
    bucket_days: int,
) -> np.ndarray:
    """Unscaled float32 [n, lookback_buckets, len(event_types) + 3] for the registered index."""
    params = {"lookback_buckets": lookback_buckets, "bucket_days": bucket_days}
    out = np.zeros((n, lookback_buckets, len(event_types) + len(TOTAL_CHANNELS)), np.float32)
    rows = con.sql(query("sample_sequences"), params=params).to_arrow_table()
    base = len(event_types)
    if rows.num_rows:
        idx = rows.column("sample_idx").to_numpy()
        pos = rows.column("position").to_numpy()
        for k, name in enumerate(TOTAL_CHANNELS):
            out[idx, pos, base + k] = rows.column(name).to_numpy().astype(np.float32)
    if event_types:
        counts = con.sql(
            query("sample_event_counts"), params={**params, "event_types": list(event_types)}
        ).to_arrow_table()
        out[
            counts.column("sample_idx").to_numpy(),
            counts.column("position").to_numpy(),
            counts.column("channel").to_numpy(),
        ] = counts.column("events").to_numpy().astype(np.float32)
    return out


def _static_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(query("sample_static")).df()


def _observed(
    static_frame: pd.DataFrame, cutoffs: pd.Series, spec: FeatureSpec
) -> np.ndarray | None:
    if not spec.observed_channel:
        return None
    return observed_mask(
        static_frame["first_seen"], cutoffs, spec.lookback_buckets, spec.bucket_days
    )


def encode_static(frame: pd.DataFrame, categories: dict[str, list[str]]) -> np.ndarray:
    """One-hot [n, sum(len(values))]; a value unseen in training gets all zeros."""
    blocks = []
    for name in STATIC_FIELDS:
        values = frame[name].astype(str).to_numpy()
        cats = np.array(categories[name], dtype=object)
        blocks.append((values[:, None] == cats[None, :]).astype(np.float32))
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(frame), 0), np.float32)


def context_vectors(
    static_frame: pd.DataFrame, lifetime: np.ndarray | None, spec: FeatureSpec
) -> np.ndarray:
    """float32 [n, len(spec.static_names)]: one-hot device and channel, then (when the spec
    has them) the lifetime features standardised and piecewise-linear encoded."""
    blocks = [encode_static(static_frame, spec.static_categories)]
    if spec.lifetime_names and lifetime is not None:
        blocks.append(scale_lifetime(lifetime, spec.lifetime_mean, spec.lifetime_std))
        blocks.append(piecewise_linear(lifetime, spec.lifetime_edges))
    return np.concatenate(blocks, axis=1)


def fit_scaler(train_sequences: np.ndarray) -> list[float]:
    """Per-channel max of log1p(x) over the training split only (min is 0 for counts)."""
    if train_sequences.size == 0:
        return [1.0] * train_sequences.shape[-1]
    peak = np.log1p(train_sequences).max(axis=(0, 1))
    return [float(v) if v > 0 else 1.0 for v in peak]


def apply_scaler(
    sequences: np.ndarray, scaler_max: list[float], observed: np.ndarray | None = None
) -> np.ndarray:
    """log1p then divide by the training max, clipped to [0, 1]; with `observed` [n, steps],
    that mask is appended as the last channel."""
    n, steps, k = sequences.shape
    scaled = np.empty((n, steps, k + (observed is not None)), np.float32)
    counts = scaled[..., :k]
    np.log1p(sequences, out=counts)
    counts /= np.asarray(scaler_max, dtype=np.float32)
    np.clip(counts, 0.0, 1.0, out=counts)
    if observed is not None:
        scaled[..., k] = observed
    return scaled


def build_sample_set(
    con: duckdb.DuckDBPyConnection,
    task: TaskConfig,
    as_of: date,
    event_types: list[str],
    first_day: date,
) -> tuple[SampleSet, FeatureSpec, pd.DataFrame]:
    """Samples for every cutoff before `as_of`, split by time, scaled on train only.

    Returns the SampleSet, the FeatureSpec to rebuild the same inputs at scoring time, and the
    sample index (cutoff, user_id, label, split) that is stored as the training_samples table.
    """
    if task.target_event != "any" and task.target_event not in event_types:
        raise SampleError(
            f"task.target_event {task.target_event!r} is not an event type of the data "
            f"(known: {event_types}); set it to one of them or to 'any'"
        )
    cutoffs = choose_cutoffs(first_day, as_of, task)
    splits = split_of_cutoffs(cutoffs)
    lookback_days = resolve_lookback_days(task, first_day, cutoffs[-1])
    lookback_buckets = max(1, lookback_days // task.bucket_days)
    index = con.execute(
        query("sample_labels"),
        {
            "cutoffs": cutoffs,
            "horizon_days": task.horizon_days,
            "target_event": task.target_event,
            "churn": task.churn,
        },
    ).df()
    if index.empty:
        raise SampleError(f"no user was active before any cutoff {cutoffs[0]}..{cutoffs[-1]}")
    index["cutoff"] = pd.to_datetime(index["cutoff"]).dt.date
    index = keep_at_most(index, task.max_samples)
    index["split"] = index["cutoff"].map(splits).astype(np.int8)
    register_index(con, index)
    try:
        sequences = raw_sequences(con, len(index), event_types, lookback_buckets, task.bucket_days)
        static_frame = _static_frame(con)
        lifetime = lifetime_features(con, task.target_event)
    finally:
        con.unregister("sample_index")
    split = index["split"].to_numpy()
    train_static = static_frame[split == TRAIN]
    categories = {f: sorted(train_static[f].astype(str).unique().tolist()) for f in STATIC_FIELDS}
    scaler_max = fit_scaler(sequences[split == TRAIN])
    mean, std = fit_lifetime_scaler(lifetime[split == TRAIN])
    spec = FeatureSpec(
        event_types=list(event_types),
        bucket_days=task.bucket_days,
        lookback_buckets=lookback_buckets,
        lookback_days=lookback_days,
        static_categories=categories,
        scaler_max=scaler_max,
        target_event=task.target_event,
        lifetime_names=list(LIFETIME_COLUMNS),
        lifetime_mean=mean,
        lifetime_std=std,
        lifetime_edges=fit_piecewise_edges(lifetime[split == TRAIN]),
        observed_channel=True,
    )
    context = context_vectors(static_frame, lifetime, spec)
    samples = SampleSet(
        sequences=apply_scaler(
            sequences, scaler_max, _observed(static_frame, index["cutoff"], spec)
        ),
        static=context,
        labels=index["label"].to_numpy().astype(np.float32),
        split=split,
        user_ids=index["user_id"].to_numpy(dtype=object),
        cutoffs=pd.to_datetime(index["cutoff"]).to_numpy().astype("datetime64[D]"),
        baseline_features=lifetime,
        feature_names=spec.feature_names,
        static_names=spec.static_names,
        baseline_names=list(LIFETIME_COLUMNS),
        scaler={"max": scaler_max},
    )
    return samples, spec, index


def inputs_for_index(
    con: duckdb.DuckDBPyConnection, spec: FeatureSpec, index: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled sequences and context vectors for (user_id, cutoff) rows, built with `spec` (so a
    model is always fed the way it was trained, whatever the current config says)."""
    register_index(con, index)
    try:
        sequences = raw_sequences(
            con, len(index), spec.event_types, spec.lookback_buckets, spec.bucket_days
        )
        static_frame = _static_frame(con)
        lifetime = (
            lifetime_features(con, spec.target_event, spec.lifetime_names)
            if spec.lifetime_names
            else None
        )
        static = context_vectors(static_frame, lifetime, spec)
    finally:
        con.unregister("sample_index")
    observed = _observed(static_frame, index["cutoff"], spec)
    return apply_scaler(sequences, spec.scaler_max, observed), static


def scoring_inputs(
    con: duckdb.DuckDBPyConnection, spec: FeatureSpec, as_of: date
) -> tuple[np.ndarray, np.ndarray, np.ndarray, date]:
    """Inputs for every user seen before as-of (dormant users too), at the last full bucket.

    Returns user_ids, scaled sequences, static one-hot and the effective cutoff.
    """
    cutoff = floor_to_bucket(as_of, spec.bucket_days)
    users = con.execute(query("users_seen_before"), {"as_of": as_of}).df()
    index = pd.DataFrame({"user_id": users["user_id"], "cutoff": cutoff})
    sequences, static = inputs_for_index(con, spec, index)
    return index["user_id"].to_numpy(dtype=object), sequences, static, cutoff


def fingerprint(samples: SampleSet, spec: FeatureSpec) -> str:
    """A short content hash of the training data (lineage: same data -> same fingerprint)."""
    digest = hashlib.sha256()
    for array in (samples.sequences, samples.static, samples.labels, samples.split):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr(sorted(spec.to_dict().items())).encode())
    return digest.hexdigest()[:16]
