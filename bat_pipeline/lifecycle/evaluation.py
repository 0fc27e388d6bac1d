"""Evaluation of a candidate against the champion and the baseline on the same, newest test
window, with bootstrap confidence intervals, gate verdicts and a model card (no Dagster)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import duckdb
import numpy as np
import pandas as pd

from bat_pipeline.config import GatesConfig
from bat_pipeline.features.samples import FeatureSpec, inputs_for_index
from bat_pipeline.lifecycle.serving import LoadedModel, load_version
from bat_pipeline.lifecycle.tracking import TrackingStore
from bat_pipeline.ml.baseline import BaselineModel
from bat_pipeline.ml.dataset import TEST, VAL, SampleSet
from bat_pipeline.ml.metrics import (
    OperatingPoints,
    balanced_threshold,
    bootstrap_intervals,
    metrics_at,
    operating_points,
)
from bat_pipeline.policy.gates import GateResult, evaluate_gates, no_regression

CI_METRICS = ("accuracy", "auc")


@dataclass
class ModelScore:
    """One model's metrics on the test window, with 95 % bootstrap intervals."""

    name: str
    version: str | None
    metrics: dict[str, float | None]
    ci: dict[str, list[float] | None] = field(default_factory=dict)


@dataclass
class EvaluationResult:
    """Candidate, champion (if any) and baseline on the same test window, and the gates."""

    test_window: str
    test_rows: int
    candidate: ModelScore
    baseline: ModelScore
    champion: ModelScore | None
    gates: list[GateResult]
    candidate_version: str
    champion_version: str | None
    mlflow_run_id: str
    #: every baseline on the same window; `baseline` is the strongest of them (by AUC)
    references: list[ModelScore] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["passed"] = self.passed
        return out


#: 0.5 for both metrics: for a model whose validation-chosen thresholds do not matter here
DEFAULT_POINTS = OperatingPoints()


def score_model(
    name: str,
    version: str | None,
    y: np.ndarray,
    p: np.ndarray,
    points: OperatingPoints = DEFAULT_POINTS,
    seed: int = 0,
) -> ModelScore:
    """Metrics at the model's operating points (chosen on validation), with bootstrap
    intervals."""
    metrics = metrics_at(y, p, points)
    intervals = bootstrap_intervals(y, p, points.accuracy, n=200, seed=seed)
    ci = {m: list(v) if v is not None else None for m, v in intervals.items() if m in CI_METRICS}
    return ModelScore(name, version, metrics, ci)


def majority_rate(labels: np.ndarray) -> float | None:
    """The share of the more frequent class: the accuracy of always predicting it."""
    if len(labels) == 0:
        return None
    positive = float(np.mean(labels))
    return max(positive, 1.0 - positive)


def part_index(samples: SampleSet, part: int = TEST) -> pd.DataFrame:
    """(user_id, cutoff) of the samples of one split, to rebuild their inputs with a spec."""
    rows = samples.part(part)
    return pd.DataFrame({"user_id": rows.user_ids, "cutoff": pd.to_datetime(rows.cutoffs).date})


def champion_probabilities(
    con: duckdb.DuckDBPyConnection, model: LoadedModel, index: pd.DataFrame
) -> np.ndarray:
    """The champion's scores on the candidate's test rows, fed with the champion's own spec."""
    sequences, static = inputs_for_index(con, model.spec, index)
    return model.predict(sequences, static)


def evaluate_candidate(
    con: duckdb.DuckDBPyConnection,
    samples: SampleSet,
    spec: FeatureSpec,
    baselines: list[BaselineModel],
    candidate_version: str,
    candidate_run_id: str,
    losses: dict[str, float],
    champion_version: str | None,
    store: TrackingStore,
    cfg: GatesConfig,
) -> EvaluationResult:
    """Score candidate, champion and every baseline on the candidate's test window; apply the
    gates (the candidate must beat the strongest baseline)."""
    test = samples.part(TEST)
    y = test.labels
    val = samples.part(VAL)
    candidate = load_version(store, candidate_version)
    p_candidate = candidate.predict(test.sequences, test.static)
    cand_points = OperatingPoints(
        candidate.threshold,
        balanced_threshold(val.labels, candidate.predict(val.sequences, val.static)),
    )
    cand = score_model("candidate", candidate_version, y, p_candidate, cand_points)
    references = [
        score_model(
            f"baseline.{b.kind}",
            None,
            y,
            b.predict_proba(test),
            operating_points(val.labels, b.predict_proba(val)),
        )
        for b in baselines
    ]
    base = max(references, key=lambda s: s.metrics.get("auc") or -1.0)
    champ = None
    if champion_version is not None and champion_version != candidate_version:
        champion = load_version(store, champion_version)
        p_champion = champion_probabilities(con, champion, part_index(samples))
        p_champion_val = champion_probabilities(con, champion, part_index(samples, VAL))
        champ_points = OperatingPoints(
            champion.threshold, balanced_threshold(val.labels, p_champion_val)
        )
        champ = score_model("champion", champion_version, y, p_champion, champ_points)
    gates = evaluate_gates(
        {**cand.metrics, **losses, "majority_rate": majority_rate(y)},
        base.metrics,
        champ.metrics if champ else None,
        cfg,
    )
    window = (
        f"{pd.Timestamp(test.cutoffs.min()).date()}..{pd.Timestamp(test.cutoffs.max()).date()}"
        if len(test)
        else "empty"
    )
    return EvaluationResult(
        test_window=window,
        test_rows=len(test),
        candidate=cand,
        baseline=base,
        champion=champ,
        gates=gates,
        candidate_version=candidate_version,
        champion_version=champion_version if champ else None,
        mlflow_run_id=candidate_run_id,
        references=references,
    )


def recheck_against(
    con: duckdb.DuckDBPyConnection,
    samples: SampleSet,
    candidate_auc: float | None,
    store: TrackingStore,
    tolerance: float,
):
    """A function version -> no_regression gate of the candidate against that champion."""

    def recheck(version: str) -> GateResult:
        model = load_version(store, version)
        p = champion_probabilities(con, model, part_index(samples))
        champ = score_model("champion", version, samples.part(TEST).labels, p)
        return no_regression(candidate_auc, champ.metrics.get("auc"), True, tolerance)

    return recheck
