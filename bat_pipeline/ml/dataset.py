"""In-memory training samples: the arrays the LSTM and the baseline learn from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = {TRAIN: "train", VAL: "val", TEST: "test"}


@dataclass
class SampleSet:
    """Point-in-time samples, one row per (user, cutoff t).

    - `sequences`: float32 [n, lookback_buckets, n_features], the user's activity in the
      buckets before t (oldest first), scaled to [0, 1] by a scaler fitted on train only;
    - `static`: float32 [n, n_static], one-hot context (device, channel) known before t;
    - `labels`: float32 [n], 1 if the target happens in [t, t + horizon);
    - `split`: int8 [n], TRAIN / VAL / TEST by cutoff time (oldest 70/15/15 %);
    - `baseline_features`: float32 [n, k], recency/frequency/monetary aggregates at t;
    - `user_ids`, `cutoffs` (datetime64[D]) identify each sample.
    """

    sequences: np.ndarray
    static: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    user_ids: np.ndarray
    cutoffs: np.ndarray
    baseline_features: np.ndarray
    feature_names: list[str]
    static_names: list[str]
    baseline_names: list[str]
    scaler: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def part(self, split: int) -> SampleSet:
        """The samples of one split (TRAIN, VAL or TEST), same metadata."""
        mask = self.split == split
        return SampleSet(
            sequences=self.sequences[mask],
            static=self.static[mask],
            labels=self.labels[mask],
            split=self.split[mask],
            user_ids=self.user_ids[mask],
            cutoffs=self.cutoffs[mask],
            baseline_features=self.baseline_features[mask],
            feature_names=self.feature_names,
            static_names=self.static_names,
            baseline_names=self.baseline_names,
            scaler=self.scaler,
        )

    @property
    def n_features(self) -> int:
        return int(self.sequences.shape[2])

    @property
    def n_static(self) -> int:
        return int(self.static.shape[1])
