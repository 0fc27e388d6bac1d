"""Training progress as one line per finished epoch, for a person watching a run: the CLI's
terminal and the Dagster run log both get it through a logger."""

from __future__ import annotations

import time
from collections.abc import Callable

import lightning as L
from lightning.pytorch.callbacks import Callback

#: the epoch metrics a line shows, with their labels
SHOWN = (("train/loss", "train loss"), ("val/loss", "val loss"), ("val/auc", "val AUC"))


def duration(seconds: float) -> str:
    """`seconds` as a person reads it: 42 s, 3 min 5 s, 1 h 2 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class EpochProgress(Callback):
    """Calls `report` with a line per finished epoch: the epoch of the most, the losses and the
    validation AUC, the pace, and the most time left (early stopping may end sooner)."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report
        self._started = 0.0
        self._first_epoch = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()
        self._first_epoch = trainer.current_epoch  # a resumed run starts past zero

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        done = trainer.current_epoch + 1
        per_epoch = (time.perf_counter() - self._started) / max(1, done - self._first_epoch)
        metrics = trainer.callback_metrics
        parts = [f"epoch {done}/{trainer.max_epochs}"]
        parts += [f"{label} {float(metrics[key]):.4f}" for key, label in SHOWN if key in metrics]
        parts.append(f"{duration(per_epoch)}/epoch")
        if done < trainer.max_epochs:
            parts.append(f"at most {duration((trainer.max_epochs - done) * per_epoch)} left")
        self.report(", ".join(parts))
