"""Validation-chosen operating points: accuracy at its threshold, balanced accuracy at its own."""

from __future__ import annotations

import numpy as np

from bat_pipeline.ml.metrics import (
    balanced_threshold,
    classification_metrics,
    metrics_at,
    operating_points,
)


def test_the_balanced_threshold_finds_a_rare_class_that_accuracy_would_ignore():
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.07).astype(float)
    # a useful but overlapping score: positives around 0.10, negatives around 0.05
    p = np.clip(np.where(y == 1, 0.10, 0.05) + rng.normal(0, 0.03, y.size), 0.0, 1.0)
    points = operating_points(y, p)
    # accuracy is best calling "yes" only far in the tail; balanced accuracy near the middle
    assert points.accuracy > 0.11 and 0.06 < points.balanced < 0.09
    at_accuracy = classification_metrics(y, p, points.accuracy)
    at_balanced = metrics_at(y, p, points)
    assert at_accuracy["balanced_accuracy"] < 0.7
    assert at_balanced["balanced_accuracy"] > 0.75
    assert at_balanced["accuracy"] == at_accuracy["accuracy"]  # accuracy keeps its threshold


def test_the_balanced_threshold_falls_back_when_validation_has_one_class():
    assert balanced_threshold(np.zeros(10), np.linspace(0, 1, 10)) == 0.5
