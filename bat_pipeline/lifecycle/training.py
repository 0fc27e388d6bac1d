"""One tracked training: the LSTM and the baselines on the same samples, one MLflow run.

The run holds params, per-epoch `train/*` and `val/*` curves, test metrics of both models,
plots, data lineage, the Dagster run id and link, the weights (hash-checked) and the model
registered as a new version. A failure marks the run FAILED and registers nothing.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bat_pipeline.config import ModelConfig, TaskConfig
from bat_pipeline.features.samples import FeatureSpec
from bat_pipeline.features.samples import fingerprint as data_fingerprint
from bat_pipeline.lifecycle.registration import describe_version, log_model
from bat_pipeline.lifecycle.run_logging import (
    MlflowEpochMetrics,
    log_figures,
    log_params,
    log_results,
)
from bat_pipeline.lifecycle.run_owners import close_dead_runs, owner_tags
from bat_pipeline.lifecycle.tracking import TrackingStore, retry
from bat_pipeline.ml.baseline import BaselineModel, fit_baselines
from bat_pipeline.ml.dataset import TEST, TRAIN, VAL, SampleSet
from bat_pipeline.ml.fit import train_lstm
from bat_pipeline.ml.metrics import OperatingPoints, metrics_at, operating_points
from bat_pipeline.ml.predict import predict_proba
from bat_pipeline.ml.trainable import check_trainable

log = logging.getLogger(__name__)


@dataclass
class CandidateResult:
    """A trained, tracked and registered candidate model."""

    run_id: str
    run_url: str
    model_version: str
    weights_sha256: str
    metrics: dict[str, float | None]
    baseline_metrics: dict[str, float | None]
    train_loss: float
    val_loss: float
    fingerprint: str
    as_of: str
    epochs: int
    samples_per_second: float
    history: list[dict] = field(default_factory=list)
    lineage: dict = field(default_factory=dict)
    #: every baseline's test metrics by kind (gbt, logreg); `baseline_metrics` is the strongest
    reference_metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def code_version() -> str:
    """The git commit of the running code, or the package version outside a checkout."""
    from importlib.metadata import version

    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return sha or f"bat_pipeline {version('bat_pipeline')}"


def lineage_of(samples: SampleSet, index: pd.DataFrame, as_of: date, fingerprint: str) -> dict:
    """Where the training data came from: as-of, windows, row and user counts, fingerprint."""
    cutoffs = sorted(pd.to_datetime(index["cutoff"]).dt.date.unique())
    parts = {
        name: samples.split == code
        for name, code in (("train", TRAIN), ("val", VAL), ("test", TEST))
    }
    return {
        "as_of": as_of.isoformat(),
        "first_cutoff": cutoffs[0].isoformat(),
        "last_cutoff": cutoffs[-1].isoformat(),
        "cutoffs": len(cutoffs),
        "rows": len(samples),
        "users": int(index["user_id"].nunique()),
        **{f"rows_{k}": int(m.sum()) for k, m in parts.items()},
        **{
            f"positive_rate_{k}": float(samples.labels[m].mean()) if m.any() else None
            for k, m in parts.items()
        },
        **{
            f"{k}_window": (
                f"{pd.Timestamp(samples.cutoffs[m].min()).date()}..{pd.Timestamp(samples.cutoffs[m].max()).date()}"
                if m.any()
                else None
            )
            for k, m in parts.items()
        },
        "data_fingerprint": fingerprint,
    }


@dataclass
class ReferenceScores:
    """One baseline on the test split: probabilities, its validation-chosen threshold, metrics."""

    probabilities: np.ndarray
    points: OperatingPoints
    metrics: dict[str, float | None]

    @property
    def threshold(self) -> float:
        return self.points.accuracy


def reference_scores(baseline: BaselineModel, val: SampleSet, test: SampleSet) -> ReferenceScores:
    points = operating_points(val.labels, baseline.predict_proba(val))
    p = baseline.predict_proba(test)
    return ReferenceScores(p, points, metrics_at(test.labels, p, points))


def strongest_reference(references: dict[str, ReferenceScores]) -> str:
    """The kind with the highest test AUC (an undefined AUC ranks last): the one to beat."""
    return max(references, key=lambda kind: references[kind].metrics.get("auc") or -1.0)


def train_and_track(
    samples: SampleSet,
    spec: FeatureSpec,
    index: pd.DataFrame,
    task: TaskConfig,
    model_cfg: ModelConfig,
    store: TrackingStore,
    checkpoint_dir: Path,
    *,
    as_of: date,
    trigger: str = "manual",
    dagster_run_id: str | None = None,
    dagster_url: str | None = None,
    baselines: list[BaselineModel] | None = None,
    progress_bar: bool = False,
    callbacks: list | None = None,
) -> CandidateResult:
    """Train the LSTM beside the baselines, log everything to one MLflow run (with the LSTM's
    lift over each baseline), register the model."""
    import mlflow
    from mlflow.entities import Param

    check_trainable(samples)
    fingerprint = data_fingerprint(samples, spec)
    lineage = lineage_of(samples, index, as_of, fingerprint)
    store.activate()
    client = store.client()
    tags = {
        "bat.trigger": trigger,
        "bat.as_of": as_of.isoformat(),
        "bat.data_fingerprint": fingerprint,
        "bat.code_version": code_version(),
        "bat.gates": "not_evaluated",
        "bat.promotion": "not_evaluated",
        "mlflow.note.content": f"LSTM candidate trained as of {as_of} ({trigger}). "
        + (f"Dagster run: {dagster_url}" if dagster_url else ""),
    }
    if dagster_run_id:
        tags["dagster.run_id"] = dagster_run_id
    if dagster_url:
        tags["dagster.run_url"] = dagster_url
    for dead in close_dead_runs(store):
        log.warning("MLflow run %s was left RUNNING by a killed process: marked KILLED", dead)
    run = retry(
        lambda: client.create_run(
            store.experiment_id(),
            run_name=f"lstm · as-of {as_of} · {trigger}",
            tags={**tags, **owner_tags()},
        ),
        "start the training run",
    )
    run_id = run.info.run_id
    try:
        params = {
            **{f"task.{k}": v for k, v in task.model_dump().items()},
            **{f"model.{k}": v for k, v in model_cfg.model_dump().items()},
            **{f"data.{k}": v for k, v in lineage.items()},
            "features.sequence": ",".join(spec.feature_names),
            "features.static": spec.context_summary,
            "features.baseline": ",".join(samples.baseline_names),
            "features.lookback_buckets": spec.lookback_buckets,
            "features.lookback_days": spec.lookback_days,
        }
        retry(lambda: log_params(client, run_id, params), "log params")
        with mlflow.start_run(run_id=run_id):
            dataset = mlflow.data.from_pandas(
                index.assign(cutoff=index["cutoff"].astype(str)),
                name=f"training_samples_{as_of}",
                targets="label",
                digest=fingerprint,
            )
            mlflow.log_input(dataset, context="training")
            baselines = baselines or fit_baselines(samples)
            result = train_lstm(
                samples,
                model_cfg,
                checkpoint_dir,
                callbacks=[MlflowEpochMetrics.create(client, run_id), *(callbacks or [])],
                progress_bar=progress_bar,
            )
            test, val = samples.part(TEST), samples.part(VAL)
            points = operating_points(
                val.labels,
                predict_proba(result.net, val.sequences, val.static[:, : result.net.n_static]),
            )
            threshold = points.accuracy
            metrics = metrics_at(test.labels, result.test_probabilities, points)
            references = {b.kind: reference_scores(b, val, test) for b in baselines}
            strongest = strongest_reference(references)
            base_metrics = references[strongest].metrics
            log_results(client, run_id, result, metrics, references, strongest)
            log_figures(
                client,
                run_id,
                result.history,
                test.labels,
                {"lstm": result.test_probabilities}
                | {kind: ref.probabilities for kind, ref in references.items()},
                threshold,
            )
            client.log_dict(run_id, lineage, "lineage.json")
            client.log_dict(run_id, spec.to_dict(), "feature_spec.json")
            retry(
                lambda: client.log_batch(
                    run_id,
                    params=[
                        Param("model.decision_threshold", f"{threshold:.2f}"),
                        Param("model.balanced_threshold", f"{points.balanced:.4f}"),
                        Param("baseline.kind", strongest),
                        *(
                            Param(f"baseline.{kind}.decision_threshold", f"{ref.threshold:.2f}")
                            for kind, ref in references.items()
                        ),
                    ],
                ),
                "log thresholds",
            )
            version, sha = log_model(result.net, spec, samples, store, run_id, threshold)
            describe_version(
                client,
                store,
                version,
                run_id,
                as_of,
                trigger,
                fingerprint,
                sha,
                metrics,
                base_metrics,
            )
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    # The model is registered: its checkpoints only served a resume after a crash.
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return CandidateResult(
        run_id=run_id,
        run_url=store.run_url(run_id),
        model_version=version,
        weights_sha256=sha,
        metrics={**metrics, "train_loss": result.train_loss, "val_loss": result.val_loss},
        baseline_metrics=base_metrics,
        reference_metrics={kind: ref.metrics for kind, ref in references.items()},
        train_loss=result.train_loss,
        val_loss=result.val_loss,
        fingerprint=fingerprint,
        as_of=as_of.isoformat(),
        epochs=len(result.history),
        samples_per_second=result.samples_per_second,
        history=result.history,
        lineage=lineage,
    )
