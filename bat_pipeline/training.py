"""One tracked training: the LSTM and the baseline on the same samples, one MLflow run.

The run holds params, per-epoch `train/*` and `val/*` curves, test metrics of both models,
plots, data lineage, the Dagster run id and link, the weights (hash-checked) and the model
registered as a new version. A failure marks the run FAILED and registers nothing.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bat_pipeline.config import ModelConfig, TaskConfig
from bat_pipeline.ml.dataset import TEST, TRAIN, VAL, SampleSet
from bat_pipeline.samples import FeatureSpec
from bat_pipeline.tracking import TrackingStore, retry

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


class MlflowEpochMetrics:
    """Lightning callback factory: per-epoch `train/*` and `val/*` metrics to an MLflow run.

    Logging failures are buffered and retried at the end, never stopping training (RELIABILITY
    36: metric logging must not kill a run whose checkpoints are fine)."""

    @staticmethod
    def create(client, run_id: str):
        from lightning.pytorch.callbacks import Callback
        from mlflow.entities import Metric
        from mlflow.exceptions import MlflowException

        class _Callback(Callback):
            def __init__(self) -> None:
                self.pending: list = []

            def on_train_epoch_end(self, trainer, pl_module) -> None:
                now = int(pd.Timestamp.now().timestamp() * 1000)
                for key, value in trainer.callback_metrics.items():
                    if key.startswith(("train/", "val/")):
                        self.pending.append(Metric(key, float(value), now, trainer.current_epoch))
                self.flush(final=False)

            def flush(self, final: bool) -> None:
                if not self.pending:
                    return
                try:
                    client.log_batch(run_id, metrics=self.pending)
                    self.pending = []
                except (MlflowException, OSError) as exc:
                    if final:
                        raise
                    log.warning(
                        "MLflow metric logging failed (%s); buffering %d values",
                        exc,
                        len(self.pending),
                    )

        return _Callback()


def _log_figures(client, run_id: str, history, y_test, p_lstm, p_base, threshold: float) -> None:
    import matplotlib.pyplot as plt

    from bat_pipeline.ml.plots import confusion_matrix_figure, loss_curves, roc_curves

    figures = {
        "plots/loss_curves.png": loss_curves(history),
        "plots/roc_test.png": roc_curves(y_test, {"lstm": p_lstm, "baseline": p_base}),
        "plots/confusion_matrix_test.png": confusion_matrix_figure(y_test, p_lstm, threshold),
    }
    for name, fig in figures.items():
        client.log_figure(run_id, fig, name)
        plt.close(fig)


def _log_model(
    net, spec: FeatureSpec, samples: SampleSet, store: TrackingStore, run_id: str, threshold: float
):
    """Weights (hash-checked) + the MLflow pytorch model with signature and input example,
    registered as a new version. Returns (version, sha256)."""
    import mlflow
    import torch
    from mlflow.models import infer_signature

    from bat_pipeline.ml.artifact import save_model
    from bat_pipeline.ml.packed import PackedNet

    with tempfile.TemporaryDirectory() as tmp:
        files = save_model(net, spec.to_dict(), Path(tmp) / "weights", threshold)
        retry(
            lambda: store.client().log_artifacts(run_id, str(files.folder), "weights"),
            "log weights",
        )
    packed = PackedNet(net).eval()
    example = PackedNet.pack(samples.sequences[:2], samples.static[:2])
    with torch.inference_mode():
        output = packed(torch.from_numpy(example)).numpy()
    info = mlflow.pytorch.log_model(
        packed,
        name="model",
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "bat_pipeline"],
        registered_model_name=store.registered_model,
        await_registration_for=0,
    )
    return str(info.registered_model_version), files.sha256


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
    baseline=None,
    progress_bar: bool = False,
    callbacks: list | None = None,
) -> CandidateResult:
    """Train the LSTM and the baseline, log everything to one MLflow run, register the model."""
    import mlflow
    from mlflow.entities import Param

    from bat_pipeline.ml.baseline import fit_baseline
    from bat_pipeline.ml.metrics import accuracy_threshold, classification_metrics
    from bat_pipeline.ml.train import check_trainable, predict_proba, train_lstm
    from bat_pipeline.samples import fingerprint as data_fingerprint

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
    run = retry(
        lambda: client.create_run(
            store.experiment_id(), run_name=f"lstm · as-of {as_of} · {trigger}", tags=tags
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
            "features.static": ",".join(spec.static_names),
            "features.baseline": ",".join(samples.baseline_names),
            "features.lookback_buckets": spec.lookback_buckets,
        }
        retry(lambda: _log_params(client, run_id, params), "log params")
        with mlflow.start_run(run_id=run_id):
            dataset = mlflow.data.from_pandas(
                index.assign(cutoff=index["cutoff"].astype(str)),
                name=f"training_samples_{as_of}",
                targets="label",
                digest=fingerprint,
            )
            mlflow.log_input(dataset, context="training")
            baseline = baseline or fit_baseline(samples)
            result = train_lstm(
                samples,
                model_cfg,
                checkpoint_dir,
                callbacks=[MlflowEpochMetrics.create(client, run_id), *(callbacks or [])],
                progress_bar=progress_bar,
            )
            test, val = samples.part(TEST), samples.part(VAL)
            threshold = accuracy_threshold(
                val.labels,
                predict_proba(result.net, val.sequences, val.static[:, : result.net.n_static]),
            )
            base_threshold = accuracy_threshold(val.labels, baseline.predict_proba(val))
            p_base = baseline.predict_proba(test)
            metrics = classification_metrics(test.labels, result.test_probabilities, threshold)
            base_metrics = classification_metrics(test.labels, p_base, base_threshold)
            _log_results(client, run_id, result, metrics, base_metrics)
            _log_figures(
                client,
                run_id,
                result.history,
                test.labels,
                result.test_probabilities,
                p_base,
                threshold,
            )
            client.log_dict(run_id, lineage, "lineage.json")
            client.log_dict(run_id, spec.to_dict(), "feature_spec.json")
            retry(
                lambda: client.log_batch(
                    run_id,
                    params=[
                        Param("model.decision_threshold", f"{threshold:.2f}"),
                        Param("baseline.decision_threshold", f"{base_threshold:.2f}"),
                    ],
                ),
                "log thresholds",
            )
            version, sha = _log_model(result.net, spec, samples, store, run_id, threshold)
            _describe_version(
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
        train_loss=result.train_loss,
        val_loss=result.val_loss,
        fingerprint=fingerprint,
        as_of=as_of.isoformat(),
        epochs=len(result.history),
        samples_per_second=result.samples_per_second,
        history=result.history,
        lineage=lineage,
    )


def _log_params(client, run_id: str, params: dict) -> None:
    from mlflow.entities import Param

    items = [
        Param(k, json.dumps(v) if isinstance(v, list | dict) else str(v)[:6000])
        for k, v in params.items()
    ]
    for start in range(0, len(items), 90):
        client.log_batch(run_id, params=items[start : start + 90])


def _log_results(client, run_id, result, metrics: dict, base_metrics: dict) -> None:
    from mlflow.entities import Metric

    now = int(pd.Timestamp.now().timestamp() * 1000)
    values = {
        **{f"test/{k}": v for k, v in metrics.items()},
        **{f"baseline/test/{k}": v for k, v in base_metrics.items()},
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "loss_gap": result.val_loss - result.train_loss,
        "epochs": float(len(result.history)),
        "train_samples_per_second": result.samples_per_second,
    }
    batch = [
        Metric(k, float(v), now, 0) for k, v in values.items() if v is not None and np.isfinite(v)
    ]
    retry(lambda: client.log_batch(run_id, metrics=batch), "log test metrics")


MODEL_DESCRIPTION = (
    "BAT customer-behaviour LSTM: P(target event within the horizon) per customer from their "
    "activity sequence. @champion serves scores; @previous is kept for rollback. Each version "
    "carries weights_sha256 (checked before loading), data_fingerprint, as_of and trigger."
)


def _describe_version(
    client, store, version, run_id, as_of, trigger, fingerprint, sha, metrics, base
) -> None:
    def fmt(v):
        return "n/a" if v is None else f"{v:.3f}"

    retry(
        lambda: client.update_registered_model(
            store.registered_model, description=MODEL_DESCRIPTION
        ),
        "describe the registered model",
    )
    retry(
        lambda: client.set_registered_model_tag(
            store.registered_model, "task", "customer behaviour"
        ),
        "tag the registered model",
    )
    retry(
        lambda: client.update_model_version(
            store.registered_model,
            version,
            description=(
                f"LSTM trained as of {as_of} ({trigger}). Test AUC {fmt(metrics.get('auc'))}, "
                f"accuracy {fmt(metrics.get('accuracy'))}; baseline AUC {fmt(base.get('auc'))}."
            ),
        ),
        "describe the model version",
    )
    for key, value in {
        "weights_sha256": sha,
        "data_fingerprint": fingerprint,
        "as_of": as_of.isoformat(),
        "trigger": trigger,
        "run_id": run_id,
    }.items():
        retry(
            lambda k=key, v=value: client.set_model_version_tag(
                store.registered_model, version, k, v
            ),
            "tag the version",
        )
