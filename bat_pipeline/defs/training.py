"""Training assets: point-in-time samples -> baseline and LSTM candidate (one MLflow run)."""

import sys
from dataclasses import dataclass
from datetime import date

import dagster as dg
import pandas as pd

from bat_pipeline.config import ModelConfig, TaskConfig
from bat_pipeline.data.warehouse import replace_table
from bat_pipeline.defs.features import FeatureTablesInfo, parse_as_of
from bat_pipeline.defs.groups import DUCKDB_WRITER, TRAINING
from bat_pipeline.defs.metadata import rounded
from bat_pipeline.defs.resources import BatHomeResource, MlflowResource, WarehouseResource
from bat_pipeline.defs.run_config import ModelRunConfig, SamplesRunConfig, task_from
from bat_pipeline.defs.run_context import dagster_run_url, trigger_of
from bat_pipeline.features.samples import FeatureSpec, SampleError, build_sample_set, fingerprint
from bat_pipeline.lifecycle.tracking import TrackingUnavailableError
from bat_pipeline.lifecycle.training import CandidateResult, train_and_track
from bat_pipeline.ml.baseline import fit_baselines
from bat_pipeline.ml.dataset import SPLIT_NAMES, TEST, VAL, SampleSet
from bat_pipeline.ml.metrics import metrics_at, operating_points
from bat_pipeline.ml.progress import EpochProgress
from bat_pipeline.ml.trainable import TrainingError


@dataclass
class SampleBundle:
    """The samples with what is needed to reproduce and describe them."""

    samples: SampleSet
    spec: FeatureSpec
    index: pd.DataFrame  # cutoff, user_id, label, split
    task: TaskConfig
    as_of: date
    fingerprint: str


@dg.asset(
    group_name=TRAINING,
    pool=DUCKDB_WRITER,
    kinds={"duckdb", "numpy"},
    description="Point-in-time samples (user, cutoff t): the activity sequence before t, the "
    "label 'target in [t, t+horizon)', split 70/15/15 by cutoff time; table training_samples.",
)
def training_samples(
    config: SamplesRunConfig, user_activity: FeatureTablesInfo, warehouse: WarehouseResource
) -> dg.Output[SampleBundle]:
    task = task_from(config, user_activity.bucket)
    as_of = parse_as_of(config.as_of, user_activity.as_of)
    try:
        with warehouse.writer() as con:
            samples, spec, index = build_sample_set(
                con, task, as_of, user_activity.event_types, user_activity.first_day
            )
            con.register("samples_frame", index)
            replace_table(con, "training_samples")
            con.unregister("samples_frame")
    except SampleError as exc:
        raise dg.Failure(description=str(exc)) from None
    fp = fingerprint(samples, spec)
    counts = index.groupby("split")["label"].agg(["count", "mean"])
    return dg.Output(
        SampleBundle(samples, spec, index, task, as_of, fp),
        metadata={
            "rows": dg.IntMetadataValue(len(index)),
            "users": dg.IntMetadataValue(int(index["user_id"].nunique())),
            "cutoffs": dg.IntMetadataValue(int(index["cutoff"].nunique())),
            "as_of": dg.TextMetadataValue(as_of.isoformat()),
            "positive_rate": rounded(float(index["label"].mean())),
            "data_fingerprint": dg.TextMetadataValue(fp),
            "splits": dg.MarkdownMetadataValue(
                "| split | samples | positive rate |\n|---|---:|---:|\n"
                + "\n".join(
                    f"| {SPLIT_NAMES[int(s)]} | {int(r['count'])} | {r['mean']:.3f} |"
                    for s, r in counts.iterrows()
                )
            ),
            "sequence_shape": dg.TextMetadataValue(str(tuple(samples.sequences.shape))),
        },
    )


@dg.asset(
    group_name=TRAINING,
    kinds={"scikitlearn"},
    description="Traditional baselines on the samples' lifetime features (recency, tenure, "
    "counts, value, gaps, windowed counts): gradient-boosted trees and a logistic regression, "
    "trained on the same samples; the LSTM must beat the stronger one.",
)
def baseline_model(training_samples: SampleBundle) -> dg.Output[list]:
    models = fit_baselines(training_samples.samples)
    test = training_samples.samples.part(TEST)
    val = training_samples.samples.part(VAL)
    metadata = {}
    for model in models:
        points = operating_points(val.labels, model.predict_proba(val))
        metrics = metrics_at(test.labels, model.predict_proba(test), points)
        metadata |= {
            f"{model.kind}_test_{k}": rounded(v) for k, v in metrics.items() if v is not None
        }
    return dg.Output(models, metadata=metadata)


@dg.asset(
    group_name=TRAINING,
    kinds={"pytorch", "mlflow"},
    description="The Lightning LSTM trained on training_samples, tracked as one MLflow run and "
    "registered as a new model version (not yet promoted).",
)
def candidate_model(
    context: dg.AssetExecutionContext,
    config: ModelRunConfig,
    training_samples: SampleBundle,
    baseline_model: list,
    bat: BatHomeResource,
    mlflow: MlflowResource,
) -> dg.Output[CandidateResult]:
    bundle = training_samples
    try:
        result = train_and_track(
            bundle.samples,
            bundle.spec,
            bundle.index,
            bundle.task,
            ModelConfig(**config.model_dump()),
            mlflow.store(),
            bat.home().checkpoints / "candidate",
            as_of=bundle.as_of,
            trigger=trigger_of(context),
            dagster_run_id=context.run_id,
            dagster_url=dagster_run_url(context.run_id),
            baselines=baseline_model,
            progress_bar=sys.stderr.isatty(),
            callbacks=[EpochProgress(context.log.info)],  # one line per epoch in the run log
        )
    except (TrainingError, TrackingUnavailableError) as exc:
        raise dg.Failure(description=str(exc)) from None
    metric_md = "| metric | LSTM | baseline |\n|---|---:|---:|\n" + "\n".join(
        f"| {k} | {_fmt(result.metrics.get(k))} | {_fmt(result.baseline_metrics.get(k))} |"
        for k in ("accuracy", "balanced_accuracy", "auc", "log_loss")
    )
    return dg.Output(
        result,
        metadata={
            "mlflow_run": dg.UrlMetadataValue(result.run_url),
            "model_version": dg.TextMetadataValue(result.model_version),
            "metrics": dg.MarkdownMetadataValue(metric_md),
            **{f"test_{k}": rounded(v) for k, v in result.metrics.items() if v is not None},
            "baseline_auc": rounded(result.baseline_metrics.get("auc") or float("nan")),
            **{
                f"lift_over_{kind}": rounded(result.metrics["auc"] - ref["auc"])
                for kind, ref in result.reference_metrics.items()
                if result.metrics.get("auc") is not None and ref.get("auc") is not None
            },
            "epochs": dg.IntMetadataValue(result.epochs),
            "train_samples_per_second": rounded(result.samples_per_second),
            "data_fingerprint": dg.TextMetadataValue(result.fingerprint),
        },
    )


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
