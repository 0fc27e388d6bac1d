"""The scores the marketing and CRM systems read: table `user_scores`, refreshed by the
training and scoring jobs."""

import dagster as dg

from bat_pipeline.defs.evaluation import champion_model
from bat_pipeline.defs.groups import DUCKDB_WRITER, EVALUATION
from bat_pipeline.defs.metadata import rounded
from bat_pipeline.defs.resources import MlflowResource, WarehouseResource
from bat_pipeline.lifecycle.scoring import score_to_table


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
