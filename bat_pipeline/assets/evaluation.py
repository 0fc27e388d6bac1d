"""Evaluation assets: candidate vs champion vs baseline, promotion by alias, user scores."""

from dataclasses import dataclass

import dagster as dg

from bat_pipeline.assets.context import dagster_run_url
from bat_pipeline.assets.groups import DUCKDB_WRITER, EVALUATION, PROMOTION
from bat_pipeline.assets.metadata import markdown_table, rounded
from bat_pipeline.assets.training import SampleBundle
from bat_pipeline.dagster_config import GatesRunConfig
from bat_pipeline.resources import MlflowResource, WarehouseResource


@dataclass
class EvaluationBundle:
    """The evaluation plus what promotion needs to re-check it under the lock."""

    result: object  # bat_pipeline.evaluation.EvaluationResult
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
    baseline_model,
    candidate_model,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.Output[EvaluationBundle]:
    from bat_pipeline.config import GatesConfig
    from bat_pipeline.evaluation import evaluate_candidate, log_evaluation
    from bat_pipeline.registry import CHAMPION, alias_version

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
        from bat_pipeline.registry import promote

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
        for s in (result.candidate, result.baseline, result.champion)
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
    for score in (result.candidate, result.baseline, result.champion):
        if score is not None and score.metrics.get("auc") is not None:
            metadata[f"{score.name}_auc"] = rounded(score.metrics["auc"])
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
    from bat_pipeline.evaluation import recheck_against
    from bat_pipeline.registry import promote

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


class ScoringConfig(dg.Config):
    as_of: str | None = None


@dg.asset(
    deps=[champion_model],
    group_name=EVALUATION,
    pool=DUCKDB_WRITER,
    kinds={"duckdb", "pytorch"},
    description="The champion's score (P(target within the horizon)) for every user seen "
    "before as-of, dormant users included; table user_scores.",
)
def user_scores(
    config: ScoringConfig, warehouse: WarehouseResource, mlflow: MlflowResource
) -> dg.MaterializeResult:
    from bat_pipeline.scoring_command import score_to_table

    summary = score_to_table(warehouse.path(), mlflow.store(), config.as_of)
    return dg.MaterializeResult(
        metadata={
            "users": dg.IntMetadataValue(summary.users),
            "dormant_users": dg.IntMetadataValue(summary.dormant_users),
            "model_version": dg.TextMetadataValue(summary.model_version),
            "as_of": dg.TextMetadataValue(summary.as_of),
            "mean_score": rounded(summary.mean_score),
        }
    )
