"""What a training run logs to MLflow besides the model: params, per-epoch curves, test
metrics and plots."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from bat_pipeline.lifecycle.tracking import retry
from bat_pipeline.ml.plots import confusion_matrix_figure, loss_curves, roc_curves

log = logging.getLogger(__name__)


class MlflowEpochMetrics:
    """Lightning callback factory: per-epoch `train/*` and `val/*` metrics to an MLflow run.

    A failed logging call keeps its values and is retried after the next epoch, never stopping
    training: metric logging must not kill a run whose checkpoints are fine. When training
    ends, what is still buffered is written with bounded retries; only if that fails too does
    the run fail (the curves are part of the run's record)."""

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

            def on_train_end(self, trainer, pl_module) -> None:
                retry(lambda: self.flush(final=True), "log the buffered epoch metrics")

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


def log_params(client, run_id: str, params: dict) -> None:
    from mlflow.entities import Param

    items = [
        Param(k, json.dumps(v) if isinstance(v, list | dict) else str(v)[:6000])
        for k, v in params.items()
    ]
    for start in range(0, len(items), 90):
        client.log_batch(run_id, params=items[start : start + 90])


def log_results(client, run_id, result, metrics: dict, references: dict, strongest: str) -> None:
    """Test metrics of the LSTM (`test/*`), of the strongest baseline (`baseline/test/*`) and of
    each baseline (`baseline.<kind>/test/*`), the LSTM's AUC lift over each (`lift/<kind>`),
    losses, epochs and throughput. One MLflow call, not retried here: the caller retries."""
    from mlflow.entities import Metric

    now = int(pd.Timestamp.now().timestamp() * 1000)
    auc = metrics.get("auc")
    values = {
        **{f"test/{k}": v for k, v in metrics.items()},
        **{f"baseline/test/{k}": v for k, v in references[strongest].metrics.items()},
        **{
            f"baseline.{kind}/test/{k}": v
            for kind, ref in references.items()
            for k, v in ref.metrics.items()
        },
        **{
            f"lift/{kind}": auc - ref.metrics["auc"]
            for kind, ref in references.items()
            if auc is not None and ref.metrics.get("auc") is not None
        },
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "loss_gap": result.val_loss - result.train_loss,
        "epochs": float(len(result.history)),
        "train_samples_per_second": result.samples_per_second,
    }
    batch = [
        Metric(k, float(v), now, 0) for k, v in values.items() if v is not None and np.isfinite(v)
    ]
    client.log_batch(run_id, metrics=batch)


def log_figures(
    client, run_id: str, history, y_test, probabilities: dict[str, np.ndarray], threshold: float
) -> None:
    """Loss curves, ROC of the LSTM and every baseline, the LSTM's confusion matrix."""
    import matplotlib.pyplot as plt

    figures = {
        "plots/loss_curves.png": loss_curves(history),
        "plots/roc_test.png": roc_curves(y_test, probabilities),
        "plots/confusion_matrix_test.png": confusion_matrix_figure(
            y_test, probabilities["lstm"], threshold
        ),
    }
    for name, fig in figures.items():
        client.log_figure(run_id, fig, name)
        plt.close(fig)
