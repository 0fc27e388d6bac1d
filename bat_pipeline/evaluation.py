"""Evaluation of a candidate against the champion and the baseline on the same, newest test
window, with bootstrap confidence intervals, gate verdicts and a model card (no Dagster)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import duckdb
import numpy as np
import pandas as pd

from bat_pipeline.config import GatesConfig
from bat_pipeline.ml.dataset import TEST, VAL, SampleSet
from bat_pipeline.ml.gates import GateResult, evaluate_gates, no_regression
from bat_pipeline.ml.metrics import accuracy_threshold
from bat_pipeline.samples import FeatureSpec, inputs_for_index
from bat_pipeline.serving import LoadedModel, load_version
from bat_pipeline.tracking import TrackingStore, retry

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

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["passed"] = self.passed
        return out


def score_model(
    name: str,
    version: str | None,
    y: np.ndarray,
    p: np.ndarray,
    threshold: float = 0.5,
    seed: int = 0,
) -> ModelScore:
    """Metrics at the model's own decision threshold, with bootstrap intervals."""
    from bat_pipeline.ml.metrics import bootstrap_ci, classification_metrics

    metrics = classification_metrics(y, p, threshold)
    ci = {}
    for metric in CI_METRICS:

        def at_threshold(yy: np.ndarray, pp: np.ndarray, m: str = metric) -> float | None:
            return classification_metrics(yy, pp, threshold)[m]

        interval = bootstrap_ci(y, p, at_threshold, n=200, seed=seed)
        ci[metric] = list(interval) if interval is not None else None
    return ModelScore(name, version, metrics, ci)


def test_index(samples: SampleSet) -> pd.DataFrame:
    test = samples.part(TEST)
    return pd.DataFrame({"user_id": test.user_ids, "cutoff": pd.to_datetime(test.cutoffs).date})


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
    baseline_model,
    candidate_version: str,
    candidate_run_id: str,
    losses: dict[str, float],
    champion_version: str | None,
    store: TrackingStore,
    cfg: GatesConfig,
) -> EvaluationResult:
    """Score candidate, champion and baseline on the candidate's test window; apply gates."""
    test = samples.part(TEST)
    y = test.labels
    candidate = load_version(store, candidate_version)
    p_candidate = candidate.predict(test.sequences, test.static)
    cand = score_model("candidate", candidate_version, y, p_candidate, candidate.threshold)
    val = samples.part(VAL)
    base_threshold = accuracy_threshold(val.labels, baseline_model.predict_proba(val))
    base = score_model("baseline", None, y, baseline_model.predict_proba(test), base_threshold)
    champ = None
    if champion_version is not None and champion_version != candidate_version:
        champion = load_version(store, champion_version)
        p_champion = champion_probabilities(con, champion, test_index(samples))
        champ = score_model("champion", champion_version, y, p_champion, champion.threshold)
    gates = evaluate_gates(
        {**cand.metrics, **losses},
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
        p = champion_probabilities(con, model, test_index(samples))
        champ = score_model("champion", version, samples.part(TEST).labels, p, model.threshold)
        return no_regression(candidate_auc, champ.metrics.get("auc"), True, tolerance)

    return recheck


def log_evaluation(store: TrackingStore, result: EvaluationResult) -> None:
    """Metrics with intervals, evaluation.json and the model card, on the candidate's run."""
    from mlflow.entities import Metric

    client = store.client()
    now = int(pd.Timestamp.now().timestamp() * 1000)
    values: dict[str, float] = {}
    for score in (result.candidate, result.baseline, result.champion):
        if score is None:
            continue
        for k, v in score.metrics.items():
            if v is not None:
                values[f"eval/{score.name}/{k}"] = v
        for k, interval in score.ci.items():
            if interval is not None:
                values[f"eval/{score.name}/{k}_ci_low"] = interval[0]
                values[f"eval/{score.name}/{k}_ci_high"] = interval[1]
    batch = [Metric(k, float(v), now, 0) for k, v in values.items() if np.isfinite(v)]
    retry(lambda: client.log_batch(result.mlflow_run_id, metrics=batch), "log evaluation metrics")
    retry(
        lambda: client.log_dict(result.mlflow_run_id, result.to_dict(), "evaluation.json"),
        "log evaluation",
    )
    card = model_card(result)
    retry(
        lambda: client.log_text(result.mlflow_run_id, card, "model_card.md"), "log the model card"
    )
    tags = {"bat.gates": "passed" if result.passed else "failed"}
    for gate in result.gates:
        value = "n/a" if gate.value is None else f"{gate.value:.4f}"
        tags[f"bat.gate.{gate.name}"] = f"{'pass' if gate.passed else 'FAIL'} {value}"
    for key, value in tags.items():
        retry(lambda k=key, v=value: client.set_tag(result.mlflow_run_id, k, v), "tag gates")


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _ci(score: ModelScore, metric: str) -> str:
    interval = score.ci.get(metric)
    return (
        f"{_fmt(score.metrics.get(metric))} [{interval[0]:.3f}, {interval[1]:.3f}]"
        if interval
        else _fmt(score.metrics.get(metric))
    )


def model_card(result: EvaluationResult) -> str:
    """A markdown model card: task, data window, metrics vs baseline and champion, gates, limits."""
    rows = [result.candidate, result.baseline] + ([result.champion] if result.champion else [])
    metric_lines = "\n".join(
        f"| {s.name}{f' (v{s.version})' if s.version else ''} | {_ci(s, 'accuracy')} | "
        f"{_fmt(s.metrics.get('balanced_accuracy'))} | {_ci(s, 'auc')} | {_fmt(s.metrics.get('log_loss'))} |"
        for s in rows
    )
    gate_lines = "\n".join(
        f"| {g.name} | {_fmt(g.value)} | {_fmt(g.threshold)} | {'pass' if g.passed else '**FAIL**'} | {g.reason} |"
        for g in result.gates
    )
    return f"""# Model card — {result.candidate.name} version {result.candidate_version}

**Task.** Predict, for each customer, whether the configured target event happens within the
horizon after a cutoff, from the customer's recent activity sequence (LSTM over day/week
buckets of event counts, sessions and value, plus first device and channel).

**Evaluation window.** Test cutoffs {result.test_window}, {result.test_rows} samples — the
newest cutoffs, never seen in training. Candidate, baseline and champion are scored on the
same rows.

## Metrics (95 % bootstrap intervals)

| model | accuracy | balanced accuracy | AUC | log loss |
|---|---|---|---|---|
{metric_lines}

## Gates — {"all passed" if result.passed else "NOT all passed"}

| gate | value | threshold | verdict | reason |
|---|---|---|---|---|
{gate_lines}

## Known limits

- Synthetic or single-shop data: performance elsewhere must be measured, not assumed.
- Accuracy depends on the base rate of the label; read it together with balanced accuracy and AUC.
- Users with no activity in the lookback window are scored from an all-zero sequence.
- Static context is the user's first device and channel; later changes are not seen.
- Behaviour drift (see drift reports) degrades the model until it is retrained.
"""
