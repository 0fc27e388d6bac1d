"""The traditional baselines the LSTM must beat, on the same samples' lifetime features
(recency, tenure, counts, value, gaps, windowed counts at the cutoff):

- `gbt`: gradient-boosted trees (scikit-learn's histogram GBT), strong on tabular RFM data;
- `logreg`: logistic regression on log1p-then-standardised features, the classic reference.

Each is fitted on the TRAIN split of a `SampleSet`'s `baseline_features` and scores any part
of the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from bat_pipeline.ml.dataset import SPLIT_NAMES, TRAIN, SampleSet

MAX_ITER = 1000
"""lbfgs iterations; the features are few, so this converges well before the limit."""
SEED = 0
"""Seed of the trees' internal validation split, so a baseline is the same on the same data."""
KINDS = ("gbt", "logreg")


@dataclass
class BaselineModel:
    """A fitted baseline (`kind` gbt or logreg) over the named baseline features."""

    kind: str
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


def _pipeline(kind: str) -> Pipeline:
    if kind == "gbt":
        return Pipeline([("gbt", HistGradientBoostingClassifier(random_state=SEED))])
    if kind == "logreg":
        return Pipeline(
            [
                ("log1p", FunctionTransformer(np.log1p)),
                ("scale", StandardScaler()),
                ("logreg", LogisticRegression(max_iter=MAX_ITER)),
            ]
        )
    raise ValueError(f"unknown baseline {kind!r}; one of {KINDS}")


def fit_baseline(samples: SampleSet, kind: str = "gbt") -> BaselineModel:
    """Fit one baseline on the TRAIN split of `samples`."""
    train = samples.part(TRAIN)
    x = _features(train, SPLIT_NAMES[TRAIN])
    y = train.labels.astype(np.int64)
    classes = np.unique(y)
    if classes.size < 2:
        only = "no samples" if classes.size == 0 else f"only class {int(classes[0])}"
        raise ValueError(f"cannot fit the baseline: the train window has {only}")
    pipeline = _pipeline(kind)
    pipeline.fit(x, y)
    return BaselineModel(kind=kind, pipeline=pipeline, feature_names=list(samples.baseline_names))


def fit_baselines(samples: SampleSet) -> list[BaselineModel]:
    """Every baseline, fitted on the TRAIN split of `samples`."""
    return [fit_baseline(samples, kind) for kind in KINDS]


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
    if (x < 0).any():
        row, col = np.argwhere(x < 0)[0]
        raise ValueError(
            f"negative baseline feature value in the {what} samples at row {row}, feature "
            f"{part.baseline_names[col]!r}: lifetime features are counts, days and money"
        )
    return x
