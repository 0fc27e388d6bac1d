"""What the LSTM refuses to learn from or be judged on, and the error training raises."""

from __future__ import annotations

import numpy as np

from bat_pipeline.ml.dataset import SPLIT_NAMES, SampleSet


class TrainingError(RuntimeError):
    """Training cannot start or had to stop; the message says what, where and what to do."""


def check_trainable(samples: SampleSet) -> None:
    """Refuse data the LSTM cannot learn from or be judged on: wrong shapes, labels other
    than 0/1, non-finite inputs, an empty or single-class split."""
    seq, static, labels = samples.sequences, samples.static, samples.labels
    n = len(samples)
    if seq.ndim != 3 or seq.shape[1] < 1 or seq.shape[2] < 1:
        raise TrainingError(
            f"sequences must be [samples, steps >= 1, features >= 1], got shape {seq.shape}"
        )
    if static.ndim != 2 or {seq.shape[0], static.shape[0], samples.split.shape[0]} != {n}:
        raise TrainingError(
            f"sequences {seq.shape}, static {static.shape}, labels {labels.shape} and split "
            f"{samples.split.shape} disagree on the number of samples"
        )
    if not np.isin(labels, (0.0, 1.0)).all():
        raise TrainingError("labels must be 0 or 1 (found other values, NaN or inf)")
    _check_finite(samples, seq, "sequences", samples.feature_names)
    _check_finite(samples, static, "static", samples.static_names)
    for split, name in SPLIT_NAMES.items():
        _check_split(samples.labels[samples.split == split], name)


def _check_split(labels: np.ndarray, name: str) -> None:
    if labels.size == 0:
        raise TrainingError(
            f"the {name} window is empty (0 samples): nothing to train or judge on; "
            "widen the date range or lower task.cutoff_every_days"
        )
    classes = np.unique(labels)
    if classes.size < 2:
        raise TrainingError(
            f"the {name} window has only class {int(classes[0])}: all {labels.size} samples "
            f"are labelled {int(classes[0])}, so loss and AUC say nothing there; widen the date "
            "range, change task.horizon_days or pick another task.target_event"
        )


def _check_finite(samples: SampleSet, array: np.ndarray, what: str, names: list[str]) -> None:
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    where = np.argwhere(bad)[0]
    row, col = int(where[0]), int(where[-1])
    step = f", step {int(where[1])}" if array.ndim == 3 else ""
    feature = names[col] if col < len(names) else col
    raise TrainingError(
        f"{what} hold {int(bad.sum())} non-finite value(s) (NaN/inf), first at sample {row} "
        f"(user {samples.user_ids[row]}, cutoff {samples.cutoffs[row]}){step}, feature "
        f"{feature!r}; fix the feature build — training refuses non-finite inputs"
    )
