"""The traditional baseline the LSTM must beat: logistic regression on recency/frequency/monetary.

Fitted on the TRAIN split of a `SampleSet`'s `baseline_features` (standardised, no class
weighting), it scores any part of the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bat_pipeline.ml.dataset import SPLIT_NAMES, TRAIN, SampleSet

MAX_ITER = 1000
"""lbfgs iterations; RFM features are few, so this converges well before the limit."""


@dataclass
class BaselineModel:
    """A fitted scaler + logistic regression over the named baseline features."""

    pipeline: Pipeline
    feature_names: list[str]

    def predict_proba(self, samples_part: SampleSet) -> np.ndarray:
        """Probability of label 1, float64 [n], for each row of `samples_part`."""
        x = _features(samples_part, "scored")
        if list(samples_part.baseline_names) != self.feature_names:
            raise ValueError(
                f"baseline features {samples_part.baseline_names} differ from the fitted "
                f"ones {self.feature_names}"
            )
        if x.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        return self.pipeline.predict_proba(x)[:, 1]


def fit_baseline(samples: SampleSet) -> BaselineModel:
    """Fit the baseline on the TRAIN split of `samples`."""
    train = samples.part(TRAIN)
    x = _features(train, SPLIT_NAMES[TRAIN])
    y = train.labels.astype(np.int64)
    classes = np.unique(y)
    if classes.size < 2:
        only = "no samples" if classes.size == 0 else f"only class {int(classes[0])}"
        raise ValueError(f"cannot fit the baseline: the train window has {only}")
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("logreg", LogisticRegression(max_iter=MAX_ITER))]
    )
    pipeline.fit(x, y)
    return BaselineModel(pipeline=pipeline, feature_names=list(samples.baseline_names))


def _features(part: SampleSet, what: str) -> np.ndarray:
    x = np.asarray(part.baseline_features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"baseline_features must be [n, k], got shape {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{int(bad.sum())} non-finite baseline feature value(s) in the {what} samples, "
            f"first at row {row}, feature {part.baseline_names[col]!r}"
        )
    return x
