"""Evaluation assets: candidate vs champion vs baseline on the same test window, the blocking
gate checks (one per gate, so the UI shows which gate failed and by how much; a failed gate
stops `champion_model`), and promotion by MLflow alias."""

from dataclasses import dataclass

import dagster as dg

from bat_pipeline.config import GatesConfig
from bat_pipeline.defs.groups import EVALUATION, PROMOTION
from bat_pipeline.defs.metadata import markdown_table, rounded
from bat_pipeline.defs.resources import MlflowResource, WarehouseResource
from bat_pipeline.defs.run_config import GatesRunConfig
from bat_pipeline.defs.run_context import dagster_run_url
from bat_pipeline.defs.training import SampleBundle
from bat_pipeline.lifecycle.evaluation import EvaluationResult, evaluate_candidate, recheck_against
from bat_pipeline.lifecycle.model_card import log_evaluation
from bat_pipeline.lifecycle.registry import CHAMPION, alias_version, promote
from bat_pipeline.lifecycle.training import CandidateResult
from bat_pipeline.policy.gates import GATE_NAMES


@dataclass
class EvaluationBundle:
    """The evaluation plus what promotion needs to re-check it under the lock."""

    result: EvaluationResult
    gates_config: dict
    fingerprint: str


@dg.asset(
    group_name=EVALUATION,
    kinds={"mlflow"},
    description="Candidate, current champion and baseline scored on the same newest test "
    "window (bootstrap 95 % intervals), logged to the candidate's MLflow run with a model card.",
)
def model_evaluation(
    context: dg.AssetExecutionContext,
    config: GatesRunConfig,
    training_samples: SampleBundle,
    baseline_model: list,
    candidate_model: CandidateResult,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.Output[EvaluationBundle]:
    store = mlflow.store()
    gates_cfg = GatesConfig(**config.model_dump())
    with warehouse.reader() as con:
        result = evaluate_candidate(
            con,
            training_samples.samples,
            training_samples.spec,
            baseline_model,
            candidate_model.model_version,
            candidate_model.run_id,
            {"train_loss": candidate_model.train_loss, "val_loss": candidate_model.val_loss},
            alias_version(store, CHAMPION),
            store,
            gates_cfg,
        )
    log_evaluation(store, result)
    if not result.passed:
        # Blocking gate checks will stop champion_model: record the rejected attempt here.
        promote(
            store,
            result.candidate_version,
            result.gates,
            evaluated_against=result.champion_version,
            recheck=_never_called,
            record={
                "data_fingerprint": training_samples.fingerprint,
                "dagster_run_id": context.run_id,
                "mlflow_run_id": result.mlflow_run_id,
            },
        )
    rows = [
        (
            s.name,
            s.version,
            s.metrics.get("accuracy"),
            s.metrics.get("auc"),
            s.metrics.get("log_loss"),
        )
        for s in (result.candidate, *result.references, result.champion)
        if s is not None
    ]
    metadata = {
        "comparison": dg.MarkdownMetadataValue(
            markdown_table(["model", "version", "accuracy", "auc", "log_loss"], rows)
        ),
        "test_window": dg.TextMetadataValue(result.test_window),
        "gates_passed": dg.BoolMetadataValue(result.passed),
        "mlflow_run": dg.UrlMetadataValue(store.run_url(result.mlflow_run_id)),
    }
    for score in (result.candidate, result.baseline, *result.references, result.champion):
        if score is not None and score.metrics.get("auc") is not None:
            metadata[f"{score.name}_auc"] = rounded(score.metrics["auc"])
    metadata["baseline_auc"] = rounded(result.baseline.metrics.get("auc"))
    return dg.Output(
        EvaluationBundle(result, gates_cfg.model_dump(), training_samples.fingerprint),
        metadata=metadata,
    )


def _never_called(version: str):
    raise AssertionError(f"a candidate that failed its gates is never re-checked ({version})")


@dg.asset(
    group_name=EVALUATION,
    pool=PROMOTION,
    kinds={"mlflow"},
    description="The model version holding the MLflow alias `champion` (the old one keeps "
    "`previous`); moved only when every gate passed, under a lock, verified by read-back.",
)
def champion_model(
    context: dg.AssetExecutionContext,
    model_evaluation: EvaluationBundle,
    training_samples: SampleBundle,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    store = mlflow.store()
    result = model_evaluation.result
    with warehouse.reader() as con:
        decision = promote(
            store,
            result.candidate_version,
            result.gates,
            evaluated_against=result.champion_version,
            recheck=recheck_against(
                con,
                training_samples.samples,
                result.candidate.metrics.get("auc"),
                store,
                model_evaluation.gates_config["max_regression"],
            ),
            record={
                "data_fingerprint": model_evaluation.fingerprint,
                "dagster_run_id": context.run_id,
                "mlflow_run_id": result.mlflow_run_id,
            },
        )
    context.log.info(f"promotion decision: {decision.reason}")
    return dg.MaterializeResult(
        metadata={
            "promoted": dg.BoolMetadataValue(decision.promoted),
            "decision": dg.TextMetadataValue(decision.reason),
            "champion_before": dg.TextMetadataValue(str(decision.champion_before)),
            "champion_after": dg.TextMetadataValue(str(decision.champion_after)),
            "registered_model": dg.UrlMetadataValue(store.model_url()),
            "dagster_run": dg.UrlMetadataValue(dagster_run_url(context.run_id)),
        }
    )


GATE_DESCRIPTIONS = {
    "min_accuracy": "Test accuracy at least gates.min_accuracy.",
    "beats_majority": "Test accuracy above the share of the window's majority class.",
    "min_balanced_accuracy": "Test balanced accuracy (at the threshold that maximises it on "
    "validation) at least gates.min_balanced_accuracy.",
    "min_auc": "Test ROC AUC at least gates.min_auc.",
    "max_loss_gap": "val_loss - train_loss at most gates.max_loss_gap (overfitting).",
    "beats_baseline": "LSTM AUC above the stronger baseline's AUC (gradient-boosted trees or "
    "logistic regression on the lifetime features) on the same test window.",
    "no_regression": "AUC not below the current champion's by more than gates.max_regression.",
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name=f"gate_{name}",
            asset=model_evaluation,
            blocking=True,
            description=GATE_DESCRIPTIONS[name],
        )
        for name in GATE_NAMES
    ],
    description="Evaluation gates of the candidate: each a pure decision on its metrics.",
)
def evaluation_gates(model_evaluation: EvaluationBundle):
    for gate in model_evaluation.result.gates:
        yield dg.AssetCheckResult(
            check_name=f"gate_{gate.name}",
            asset_key=dg.AssetKey("model_evaluation"),
            passed=gate.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "value": rounded(gate.value)
                if gate.value is not None
                else dg.TextMetadataValue("undefined"),
                "threshold": rounded(gate.threshold)
                if gate.threshold is not None
                else dg.TextMetadataValue("n/a"),
                "reason": dg.TextMetadataValue(gate.reason),
            },
        )
