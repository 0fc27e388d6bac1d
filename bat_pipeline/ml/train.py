"""Train the behaviour LSTM on a `SampleSet`: checks, Lightning fit, safe resume, evaluation.

No tracking here: pass MLflow (or any Lightning) loggers in `loggers`. The checkpoint folder
belongs to one training: it holds `fingerprint.json` (which data and config the checkpoints
are of), `last.ckpt` and `epoch=E-step=S.ckpt` of the two latest epochs (written at every
epoch end), and `best-epoch=E-step=S.ckpt`, the best epoch by `val/loss`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason
from torch.nn import functional as F

from bat_pipeline.config import ModelConfig
from bat_pipeline.ml.datamodule import EVAL_BATCH_SIZE, SampleDataModule
from bat_pipeline.ml.dataset import SPLIT_NAMES, TEST, TRAIN, VAL, SampleSet
from bat_pipeline.ml.model import BehaviourLSTM, NonFiniteLossError, SequenceNet

FINGERPRINT_FILE = "fingerprint.json"
LAST_CHECKPOINT = "last.ckpt"
CHECKPOINT_KEYS = ("state_dict", "optimizer_states", "lr_schedulers", "loops", "callbacks", "epoch")
HISTORY_KEYS = ("train/loss", "val/loss", "val/auc", "val/accuracy")
FORMAT_VERSION = 1
"""Bumped when the network or checkpoint layout changes, so old checkpoints are not resumed."""
RESUME_INDEPENDENT = ("max_epochs", "accelerator")
"""Config fields that may change between an interrupted run and its resumption."""


class TrainingError(RuntimeError):
    """Training cannot start or had to stop; the message says what, where and what to do."""


class CheckpointError(ValueError):
    """A checkpoint file cannot be resumed from (unreadable, incomplete or non-finite)."""


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


# --------------------------------------------------------------------------- pre-train checks


def check_trainable(samples: SampleSet) -> None:
    """Refuse data the LSTM cannot learn from or be judged on (RELIABILITY 14, 16, 35)."""
    seq, static, labels = samples.sequences, samples.static, samples.labels
    n = len(samples)
    if seq.ndim != 3 or seq.shape[1] < 1 or seq.shape[2] < 1:
        raise TrainingError(
            f"sequences must be [samples, steps >= 1, features >= 1], got shape {seq.shape}"
        )
    if static.ndim != 2 or {seq.shape[0], static.shape[0], samples.split.shape[0]} != {n}:
        raise TrainingError(
            f"sequences {seq.shape}, static {static.shape}, labels {labels.shape} and split "
            f"{samples.split.shape} disagree on the number of samples"
        )
    if not np.isin(labels, (0.0, 1.0)).all():
        raise TrainingError("labels must be 0 or 1 (found other values, NaN or inf)")
    _check_finite(samples, seq, "sequences", samples.feature_names)
    _check_finite(samples, static, "static", samples.static_names)
    for split, name in SPLIT_NAMES.items():
        _check_split(samples.labels[samples.split == split], name)


def _check_split(labels: np.ndarray, name: str) -> None:
    if labels.size == 0:
        raise TrainingError(
            f"the {name} window is empty (0 samples): nothing to train or judge on; "
            "widen the date range or lower task.cutoff_every_days"
        )
    classes = np.unique(labels)
    if classes.size < 2:
        raise TrainingError(
            f"the {name} window has only class {int(classes[0])}: all {labels.size} samples "
            f"are labelled {int(classes[0])}, so loss and AUC say nothing there; widen the date "
            "range, change task.horizon_days or pick another task.target_event"
        )


def _check_finite(samples: SampleSet, array: np.ndarray, what: str, names: list[str]) -> None:
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    where = np.argwhere(bad)[0]
    row, col = int(where[0]), int(where[-1])
    step = f", step {int(where[1])}" if array.ndim == 3 else ""
    feature = names[col] if col < len(names) else col
    raise TrainingError(
        f"{what} hold {int(bad.sum())} non-finite value(s) (NaN/inf), first at sample {row} "
        f"(user {samples.user_ids[row]}, cutoff {samples.cutoffs[row]}){step}, feature "
        f"{feature!r}; fix the feature build — training refuses non-finite inputs"
    )


# --------------------------------------------------------------------------- training


def build_net(samples: SampleSet, cfg: ModelConfig) -> SequenceNet:
    """The network for these samples' shapes and the configured size."""
    return SequenceNet(
        n_features=samples.n_features,
        n_static=samples.n_static if cfg.use_static else 0,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        dropout=cfg.dropout,
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
    resume_from, resume_state = _prepare_checkpoint_dir(checkpoint_dir, fingerprint, resume)

    with _quiet_lightning():
        L.seed_everything(cfg.seed, workers=True)
        module = BehaviourLSTM(build_net(samples, cfg), cfg.learning_rate, cfg.lr_decay)
        data = SampleDataModule(samples, batch_size=cfg.batch_size, seed=cfg.seed)
        history = EpochHistory()
        best, latest = _checkpointers(checkpoint_dir)
        stopper = EarlyStopping(
            monitor="val/loss", mode="min", patience=cfg.patience, check_finite=True
        )
        trainer = L.Trainer(
            accelerator=accelerator,
            devices=1,
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
        if resume_state is not None and _stopped_early(resume_state, stopper):
            # The interrupted run had already converged: nothing left to train.
            history.load_state_dict(resume_state["callbacks"][history.state_key])
            best_path = Path(resume_state["callbacks"][best.state_key]["best_model_path"])
        else:
            _fit(trainer, module, data, resume_from, cfg)
            best_path = Path(best.best_model_path) if best.best_model_path else None
        fit_seconds = time.perf_counter() - started

    epochs_run = len(history.epochs) - _completed_epochs(resume_state, history)
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
        test_probabilities=_predict_part(net, samples.part(TEST), device),
        samples_per_second=n_train * epochs_run / fit_seconds if epochs_run else 0.0,
        device=str(device),
        fingerprint=fingerprint,
        fit_seconds=fit_seconds,
    )


def _checkpointers(checkpoint_dir: Path) -> tuple[ModelCheckpoint, ModelCheckpoint]:
    """The best epoch by val/loss, and the two latest epochs plus `last.ckpt`.

    Lightning 2.6 writes `last.ckpt` only when its callback saved a checkpoint in that step, so
    the latest epochs get their own callback (listed after `best`, whose state they include).
    Both save after the epoch hooks, so that history and early-stopping state are in them."""
    best = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="best-{epoch}-{step}",
        monitor="val/loss",
        mode="min",
        save_top_k=1,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    latest = ModelCheckpoint(
        dirpath=checkpoint_dir,
        monitor="epoch",
        mode="max",
        save_top_k=2,  # the previous epoch stays as a fallback for a corrupt latest one
        save_last=True,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    return best, latest


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


class EpochHistory(Callback):
    """Per-epoch metrics ({"epoch", "train/loss", "val/loss", "val/auc", "val/accuracy"}),
    kept in the checkpoints so that a resumed run reports its whole history."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = trainer.callback_metrics
        row: dict[str, float] = {"epoch": trainer.current_epoch}
        row |= {k: float(metrics[k]) for k in HISTORY_KEYS if k in metrics}
        self.epochs.append(row)

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": [dict(e) for e in self.epochs]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = [dict(e) for e in state_dict["epochs"]]


class RngState(Callback):
    """The torch random generators (dropout masks) saved in each checkpoint, so that a resumed
    run continues exactly as the uninterrupted one would have."""

    def state_dict(self) -> dict[str, Any]:
        state = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["cpu"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


# --------------------------------------------------------------------------- resume


def training_fingerprint(samples: SampleSet, cfg: ModelConfig) -> str:
    """Hash of the training data (arrays and names) and of the config that shapes training."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (samples.sequences, samples.static, samples.labels, samples.split):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    settings = cfg.model_dump(exclude=set(RESUME_INDEPENDENT))
    names = [samples.feature_names, samples.static_names]
    digest.update(json.dumps([FORMAT_VERSION, settings, names], sort_keys=True).encode())
    return digest.hexdigest()


def validate_checkpoint(path: Path) -> dict[str, Any]:
    """Load a Lightning checkpoint safely (`weights_only=True`) and check that it is complete
    and that every weight and optimiser tensor is finite; raise `CheckpointError` if not."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file means the same thing: do not resume from it
        raise CheckpointError(
            f"{path.name}: not loadable ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''})"
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path.name}: not a Lightning checkpoint")
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{path.name}: incomplete, missing {missing}")
    bad = [name for name, t in _tensors(state["state_dict"]) if not torch.isfinite(t).all()]
    bad += [name for name, t in _tensors(state["optimizer_states"]) if not torch.isfinite(t).all()]
    if bad:
        raise CheckpointError(f"{path.name}: non-finite values in {bad[:5]}")
    return state


def _tensors(tree: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point():
            yield prefix, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from _tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(tree, list | tuple):
        for i, value in enumerate(tree):
            yield from _tensors(value, f"{prefix}[{i}]")


def _prepare_checkpoint_dir(
    checkpoint_dir: Path, fingerprint: str, resume: bool
) -> tuple[Path | None, dict[str, Any] | None]:
    """The checkpoint to resume from and its loaded state, or (None, None) for a fresh start
    (after deleting checkpoints of other data/config). Corrupt checkpoints are renamed
    `*.corrupt` when an older valid one is used instead (RELIABILITY 33, C6)."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker = checkpoint_dir / FINGERPRINT_FILE
    checkpoints = _checkpoints_newest_first(checkpoint_dir)
    if not (resume and checkpoints and _read_fingerprint(marker) == fingerprint):
        for path in checkpoints:
            path.unlink()
        _write_atomic(marker, json.dumps({"fingerprint": fingerprint}))
        return None, None
    problems = []
    for path in checkpoints:
        try:
            state = validate_checkpoint(path)
        except CheckpointError as exc:
            problems.append((path, str(exc)))
            continue
        for bad, _ in problems:
            bad.rename(bad.with_name(bad.name + ".corrupt"))
        return path, state
    raise TrainingError(
        f"cannot resume: no valid checkpoint in {checkpoint_dir} ("
        + "; ".join(reason for _, reason in problems)
        + "). Inspect or delete these files, or train again with resume=False to start over"
    )


def _checkpoints_newest_first(checkpoint_dir: Path) -> list[Path]:
    files = [p for p in checkpoint_dir.glob("*.ckpt") if p.is_file()]
    return sorted(files, key=lambda p: (p.name == LAST_CHECKPOINT, p.stat().st_mtime), reverse=True)


def _read_fingerprint(marker: Path) -> str | None:
    try:
        return json.loads(marker.read_text(encoding="utf-8"))["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _stopped_early(state: dict[str, Any], stopper: EarlyStopping) -> bool:
    reason = state["callbacks"].get(stopper.state_key, {}).get("stopping_reason", 0)
    return reason != EarlyStoppingReason.NOT_STOPPED.value


def _completed_epochs(state: dict[str, Any] | None, history: EpochHistory) -> int:
    if state is None:
        return 0
    return len(state["callbacks"].get(history.state_key, {}).get("epochs", []))


# --------------------------------------------------------------------------- evaluation


def predict_proba(
    net: SequenceNet,
    sequences: np.ndarray,
    static: np.ndarray | None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> np.ndarray:
    """P(label = 1), float64 [n], for sequences [n, steps, features] and static [n, n_static]."""
    return torch.sigmoid(_logits(net, sequences, static, batch_size)).double().numpy()


def mean_loss(net: SequenceNet, part: SampleSet, device: torch.device | str = "cpu") -> float:
    """Mean BCE-with-logits over all rows of `part`, in eval mode."""
    with _on_device(net, device):
        logits = _logits(net, part.sequences, part.static)
    return float(F.binary_cross_entropy_with_logits(logits, torch.from_numpy(part.labels).float()))


def _predict_part(net: SequenceNet, part: SampleSet, device: torch.device) -> np.ndarray:
    with _on_device(net, device):
        return predict_proba(net, part.sequences, part.static)


def _logits(
    net: SequenceNet,
    sequences: np.ndarray,
    static: np.ndarray | None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> torch.Tensor:
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    out = []
    try:
        with torch.inference_mode():
            for start in range(0, len(sequences), batch_size):
                stop = start + batch_size
                seq = torch.from_numpy(np.ascontiguousarray(sequences[start:stop], np.float32))
                ctx = None
                if static is not None and net.n_static:
                    ctx = torch.from_numpy(np.ascontiguousarray(static[start:stop], np.float32))
                    ctx = ctx.to(device)
                out.append(net(seq.to(device), ctx).float().cpu())
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


@contextlib.contextmanager
def _on_device(net: SequenceNet, device: torch.device | str) -> Iterator[None]:
    original = next(net.parameters()).device
    net.to(device)
    try:
        yield
    finally:
        net.to(original)


# --------------------------------------------------------------------------- plumbing


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


__all__ = [
    "CheckpointError",
    "TrainResult",
    "TrainingError",
    "check_trainable",
    "predict_proba",
    "train_lstm",
]
