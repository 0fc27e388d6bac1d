"""Training the behaviour LSTM on a `SampleSet`: a Lightning fit on TRAIN, early-stopped on
VAL, resumed safely from its checkpoints after an interruption.

No tracking here: pass MLflow (or any Lightning) loggers in `loggers`.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from bat_pipeline.config import ModelConfig
from bat_pipeline.ml.checkpoints import (
    CheckpointError,
    EpochHistory,
    RngState,
    checkpointers,
    completed_epochs,
    prepare_checkpoint_dir,
    stopped_early,
    training_fingerprint,
    validate_checkpoint,
)
from bat_pipeline.ml.datamodule import SampleDataModule
from bat_pipeline.ml.dataset import TEST, TRAIN, VAL, SampleSet
from bat_pipeline.ml.model import BehaviourLSTM, NonFiniteLossError, SequenceNet
from bat_pipeline.ml.predict import mean_loss, predict_part
from bat_pipeline.ml.trainable import TrainingError, check_trainable


@dataclass
class TrainResult:
    """A trained network with its best checkpoint, curves and test-window probabilities.

    `train_loss`/`val_loss` are mean BCE over the whole split with the best weights in eval
    mode (dropout off), so their gap measures overfitting and nothing else. `history` has one
    dict per epoch, including those of an interrupted run this one resumed."""

    module: BehaviourLSTM
    net: SequenceNet
    best_checkpoint: Path
    epochs_run: int
    resumed_from: Path | None
    history: list[dict[str, float]]
    train_loss: float
    val_loss: float
    test_probabilities: np.ndarray
    samples_per_second: float
    device: str
    fingerprint: str = ""
    fit_seconds: float = 0.0


def build_net(samples: SampleSet, cfg: ModelConfig) -> SequenceNet:
    """The network for these samples' shapes and the configured size."""
    return SequenceNet(
        n_features=samples.n_features,
        n_static=samples.n_static if cfg.use_static else 0,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        dropout=cfg.dropout,
        wide=cfg.use_static,
    )


def train_lstm(
    samples: SampleSet,
    cfg: ModelConfig,
    checkpoint_dir: Path,
    *,
    loggers: list | None = None,
    callbacks: list | None = None,
    progress_bar: bool = False,
    resume: bool = True,
) -> TrainResult:
    """Train (or finish training) the LSTM on the TRAIN split, early-stopped on VAL.

    With `resume`, checkpoints in `checkpoint_dir` of the same data and config (except
    `max_epochs`/`accelerator`) are continued from the latest valid one; other checkpoints
    there are deleted. Raises `TrainingError` for untrainable data, a NaN/inf loss (naming the
    step) or checkpoints that cannot be resumed."""
    check_trainable(samples)
    accelerator = _accelerator(cfg)
    checkpoint_dir = Path(checkpoint_dir).resolve()
    fingerprint = training_fingerprint(samples, cfg)
    resume_from, resume_state = prepare_checkpoint_dir(checkpoint_dir, fingerprint, resume)

    with _quiet_lightning():
        L.seed_everything(cfg.seed, workers=True)
        module = BehaviourLSTM(build_net(samples, cfg), cfg.learning_rate, cfg.lr_decay)
        data = SampleDataModule(samples, batch_size=cfg.batch_size, seed=cfg.seed)
        history = EpochHistory()
        best, latest = checkpointers(checkpoint_dir)
        stopper = EarlyStopping(
            monitor="val/loss", mode="min", patience=cfg.patience, check_finite=True
        )
        trainer = L.Trainer(
            accelerator=accelerator,
            devices=1,
            precision=lightning_precision(cfg, accelerator),
            max_epochs=cfg.max_epochs,
            callbacks=[history, RngState(), stopper, best, latest, *(callbacks or [])],
            logger=loggers or False,
            enable_progress_bar=progress_bar,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=_log_interval(samples, cfg),
            default_root_dir=checkpoint_dir,
        )
        started = time.perf_counter()
        if resume_state is not None and stopped_early(resume_state, stopper):
            # The interrupted run had already converged: nothing left to train.
            history.load_state_dict(resume_state["callbacks"][history.state_key])
            best_path = Path(resume_state["callbacks"][best.state_key]["best_model_path"])
        else:
            _fit(trainer, module, data, resume_from, cfg)
            best_path = Path(best.best_model_path) if best.best_model_path else None
        fit_seconds = time.perf_counter() - started

    epochs_run = len(history.epochs) - completed_epochs(resume_state, history)
    net, best_checkpoint = _load_best(module, best_path, checkpoint_dir)
    device = _device(accelerator)
    n_train = int((samples.split == TRAIN).sum())
    return TrainResult(
        module=module,
        net=net,
        best_checkpoint=best_checkpoint,
        epochs_run=epochs_run,
        resumed_from=resume_from,
        history=history.epochs,
        train_loss=mean_loss(net, samples.part(TRAIN), device),
        val_loss=mean_loss(net, samples.part(VAL), device),
        test_probabilities=predict_part(net, samples.part(TEST), device),
        samples_per_second=n_train * epochs_run / fit_seconds if epochs_run else 0.0,
        device=str(device),
        fingerprint=fingerprint,
        fit_seconds=fit_seconds,
    )


def _fit(
    trainer: L.Trainer,
    module: BehaviourLSTM,
    data: SampleDataModule,
    resume_from: Path | None,
    cfg: ModelConfig,
) -> None:
    try:
        trainer.fit(module, datamodule=data, ckpt_path=resume_from, weights_only=True)
    except NonFiniteLossError as exc:
        raise TrainingError(
            f"training stopped: the {exc.stage} loss became NaN/inf at step {exc.step} "
            f"(epoch {exc.epoch}, batch {exc.batch_idx}); no checkpoint of that step was kept. "
            f"Check the inputs for extreme values or lower model.learning_rate "
            f"(now {cfg.learning_rate})"
        ) from exc
    stopper = trainer.early_stopping_callback
    if stopper is not None and stopper.stopping_reason == EarlyStoppingReason.NON_FINITE_METRIC:
        raise TrainingError(f"training stopped: {stopper.stopping_reason_message}")


def _load_best(
    module: BehaviourLSTM, best_path: Path | None, checkpoint_dir: Path
) -> tuple[SequenceNet, Path]:
    """Put the best epoch's weights in `module` (validated: loadable and finite)."""
    if best_path is None or not best_path.is_file():
        raise TrainingError(
            f"no best checkpoint was written to {checkpoint_dir} (was any epoch completed?)"
        )
    try:
        state = validate_checkpoint(best_path)
    except CheckpointError as exc:
        raise TrainingError(f"the best checkpoint is unusable: {exc}") from exc
    module.load_state_dict(state["state_dict"])
    module.cpu().eval()
    return module.net, best_path


def _accelerator(cfg: ModelConfig) -> str:
    if cfg.accelerator == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "gpu"
    if cfg.accelerator == "gpu":
        raise TrainingError(
            "model.accelerator is 'gpu' but torch sees no CUDA device; "
            "set model.accelerator to 'auto' or 'cpu'"
        )
    return "cpu"


def lightning_precision(cfg: ModelConfig, accelerator: str) -> str:
    """Lightning's `precision` for `model.precision` on this accelerator; `auto` takes
    bfloat16 only where the hardware computes it natively (elsewhere it is emulated, slower
    than float32)."""
    if cfg.precision == "auto":
        native = (
            torch.cuda.is_bf16_supported()
            if accelerator == "gpu"
            else torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        )
        return "bf16-mixed" if native else "32-true"
    return "bf16-mixed" if cfg.precision == "bf16" else "32-true"


def _device(accelerator: str) -> torch.device:
    if accelerator == "gpu":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _log_interval(samples: SampleSet, cfg: ModelConfig) -> int:
    """Lightning's logging interval, no longer than an epoch (it warns otherwise)."""
    batches = -(-int((samples.split == TRAIN).sum()) // cfg.batch_size)
    return max(1, min(50, batches))


_NOISE = (
    r".*does not have many workers.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    r".*is smaller than the logging interval.*",
    # torch 2.13 deprecates a pytree class that Lightning 2.6 still constructs internally.
    r".*isinstance\(treespec, LeafSpec\)",
)


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Silence Lightning's info banners and the warnings that do not apply to in-memory data."""
    # pytorch_lightning is the same code under its old name (MLflow imports it)
    names = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")
    loggers = [logging.getLogger(name) for name in names]
    levels = [log.level for log in loggers]
    with warnings.catch_warnings():
        for pattern in _NOISE:
            warnings.filterwarnings("ignore", message=pattern)
        for log in loggers:
            log.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for log, level in zip(loggers, levels, strict=True):
                log.setLevel(level)
