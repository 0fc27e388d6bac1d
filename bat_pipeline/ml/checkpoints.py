"""Checkpoints of one training, so that an interrupted run resumes exactly where it stopped.

The checkpoint folder belongs to one training: it holds `fingerprint.json` (which data and
config the checkpoints are of), `last.ckpt` and `epoch=E-step=S.ckpt` of the two latest epochs
(written at every epoch end), and `best-epoch=E-step=S.ckpt`, the best epoch by `val/loss`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from bat_pipeline.config import ModelConfig
from bat_pipeline.ml.dataset import SampleSet
from bat_pipeline.ml.trainable import TrainingError

FINGERPRINT_FILE = "fingerprint.json"


LAST_CHECKPOINT = "last.ckpt"


CHECKPOINT_KEYS = ("state_dict", "optimizer_states", "lr_schedulers", "loops", "callbacks", "epoch")


HISTORY_KEYS = ("train/loss", "val/loss", "val/auc", "val/accuracy")


FORMAT_VERSION = 2
"""Bumped when the network or checkpoint layout changes, so old checkpoints are not resumed."""


RESUME_INDEPENDENT = ("max_epochs", "accelerator")
"""Config fields that may change between an interrupted run and its resumption."""


class CheckpointError(ValueError):
    """A checkpoint file cannot be resumed from (unreadable, incomplete or non-finite)."""


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


def checkpointers(checkpoint_dir: Path) -> tuple[ModelCheckpoint, ModelCheckpoint]:
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


def prepare_checkpoint_dir(
    checkpoint_dir: Path, fingerprint: str, resume: bool
) -> tuple[Path | None, dict[str, Any] | None]:
    """The checkpoint to resume from and its loaded state, or (None, None) for a fresh start
    (after deleting checkpoints of other data/config). Corrupt checkpoints are renamed
    `*.corrupt` when an older valid one is used instead."""
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


def stopped_early(state: dict[str, Any], stopper: EarlyStopping) -> bool:
    reason = state["callbacks"].get(stopper.state_key, {}).get("stopping_reason", 0)
    return reason != EarlyStoppingReason.NOT_STOPPED.value


def completed_epochs(state: dict[str, Any] | None, history: EpochHistory) -> int:
    if state is None:
        return 0
    return len(state["callbacks"].get(history.state_key, {}).get("epochs", []))
