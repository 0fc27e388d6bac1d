"""The evaluation's record on the candidate's MLflow run: metrics with bootstrap intervals,
`evaluation.json`, gate tags and a markdown model card for reviewers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bat_pipeline.lifecycle.evaluation import EvaluationResult, ModelScore
from bat_pipeline.lifecycle.tracking import TrackingStore, retry


def log_evaluation(store: TrackingStore, result: EvaluationResult) -> None:
    """Metrics with intervals, evaluation.json and the model card, on the candidate's run."""
    from mlflow.entities import Metric

    client = store.client()
    now = int(pd.Timestamp.now().timestamp() * 1000)
    values: dict[str, float] = {}
    named = [(s.name, s) for s in (result.candidate, result.champion, *result.references) if s]
    for name, score in [*named, ("baseline", result.baseline)]:
        for k, v in score.metrics.items():
            if v is not None:
                values[f"eval/{name}/{k}"] = v
        for k, interval in score.ci.items():
            if interval is not None:
                values[f"eval/{name}/{k}_ci_low"] = interval[0]
                values[f"eval/{name}/{k}_ci_high"] = interval[1]
    auc = result.candidate.metrics.get("auc")
    for score in result.references:
        if auc is not None and score.metrics.get("auc") is not None:
            values[f"eval/lift/{score.name}"] = auc - score.metrics["auc"]
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
    rows = [result.candidate, *(result.references or [result.baseline])]
    rows += [result.champion] if result.champion else []
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
horizon after a cutoff.

**Inputs.** The customer's recent activity sequence (an LSTM over day or week buckets of event
counts per type, sessions and value, and an `observed` channel that marks the padding before
the customer's first event) and their context at the cutoff: first device and channel, and the
lifetime history before the cutoff (recency, tenure, active days, events, target events and
value over the whole history, last and mean gaps between active days and between target
events, counts in the last 7/14/28/56 days), each standardised and piecewise-linear encoded on
its training quantiles, fed to the head beside the sequence and as a linear term. Nothing at
or after the cutoff is used.

**References.** Gradient-boosted trees and a logistic regression on the same lifetime features
(`baseline.gbt`, `baseline.logreg`); the candidate must beat the stronger of the two.

**Evaluation window.** Test cutoffs {result.test_window}, {result.test_rows} samples — the
newest cutoffs, never seen in training. Candidate, baselines and champion are scored on the
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
- Users with no activity in the lookback window have an all-zero activity sequence; their
  lifetime history still tells them apart. Buckets before a user's first event are padding,
  marked 0 in the `observed` channel.
- Device and channel are the user's first ones; later changes are not seen.
- Behaviour drift (see drift reports) degrades the model until it is retrained.
"""
