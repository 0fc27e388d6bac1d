"""One tracked training: the LSTM and the baselines on the same samples, one MLflow run.

The run holds params, per-epoch `train/*` and `val/*` curves, test metrics of both models,
plots, data lineage, the Dagster run id and link, the weights (hash-checked) and the model
registered as a new version. A failure marks the run FAILED and registers nothing.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
from collections.abc import Iterator
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
from bat_pipeline.lifecycle.tracking import TrackingStore, first_line
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
    #: the checkpoint an interrupted training was resumed from (None: trained from scratch)
    resumed_from: str | None = None

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
    lift over each baseline), register the model.

    Nothing is trained untracked: when MLflow does not answer (bounded retries) before the run
    exists, `TrackingUnavailableError` is raised before training starts. A failure after that
    marks the run FAILED if MLflow answers, registers nothing and raises the error that ended
    the run."""
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
    run = store.retry(
        lambda: client.create_run(
            store.experiment_id(),
            run_name=f"lstm · as-of {as_of} · {trigger}",
            tags={**tags, **owner_tags()},
        ),
        "start the training run",
    )
    run_id = run.info.run_id
    with _active_run(store, client, run_id):
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
        store.retry(lambda: log_params(client, run_id, params), "log params")
        dataset = mlflow.data.from_pandas(
            index.assign(cutoff=index["cutoff"].astype(str)),
            name=f"training_samples_{as_of}",
            targets="label",
            digest=fingerprint,
        )
        store.retry(lambda: mlflow.log_input(dataset, context="training"), "log the training data")
        baselines = baselines or fit_baselines(samples)
        result = train_lstm(
            samples,
            model_cfg,
            checkpoint_dir,
            callbacks=[MlflowEpochMetrics.create(client, run_id), *(callbacks or [])],
            progress_bar=progress_bar,
        )
        if result.resumed_from is not None:
            store.retry(
                lambda: client.set_tag(run_id, RESUMED_TAG, str(result.resumed_from)),
                "tag the resumed checkpoint",
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
        store.retry(
            lambda: log_results(client, run_id, result, metrics, references, strongest),
            "log test metrics",
        )
        store.retry(
            lambda: log_figures(
                client,
                run_id,
                result.history,
                test.labels,
                {"lstm": result.test_probabilities}
                | {kind: ref.probabilities for kind, ref in references.items()},
                threshold,
            ),
            "log the plots",
        )
        store.retry(lambda: client.log_dict(run_id, lineage, "lineage.json"), "log lineage")
        store.retry(
            lambda: client.log_dict(run_id, spec.to_dict(), "feature_spec.json"),
            "log the feature spec",
        )
        store.retry(
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
    store.retry(lambda: client.set_terminated(run_id, status="FINISHED"), "finish the run")
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
        resumed_from=str(result.resumed_from) if result.resumed_from else None,
    )


#: the run tag naming the checkpoint of an interrupted training that this run resumed from
RESUMED_TAG = "bat.resumed_from"


@contextlib.contextmanager
def _active_run(store: TrackingStore, client, run_id: str) -> Iterator[None]:
    """`run_id` as the active run of MLflow's fluent API (dataset and pytorch model logging
    use it), marked FAILED if the block raises. Leaving it never raises: when MLflow is down,
    the error that ended the run must not be replaced by the failure to close it. After a
    success the caller sets FINISHED, with retries."""
    import mlflow

    try:
        store.retry(lambda: mlflow.start_run(run_id=run_id), "resume the training run")
    except BaseException:
        _end_run_quietly(client, run_id, "FAILED")
        raise
    ok = False
    try:
        yield
        ok = True
    finally:
        _end_run_quietly(None, run_id, "FINISHED" if ok else "FAILED")


def _end_run_quietly(client, run_id: str, status: str) -> None:
    """Set the run's status (with `client`) or leave the fluent active run (without), logging
    a failure instead of raising it. A run MLflow could not close stays RUNNING; once this
    process is gone, the next training on this host marks it KILLED."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        if client is None:
            mlflow.end_run(status)
        else:
            client.set_terminated(run_id, status=status)
    except (MlflowException, OSError) as exc:
        log.warning("could not mark MLflow run %s %s: %s", run_id, status, first_line(exc))
