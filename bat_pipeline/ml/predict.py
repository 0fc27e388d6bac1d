"""Predictions and losses of a trained network on in-memory arrays, batch by batch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch.nn import functional as F

from bat_pipeline.ml.datamodule import EVAL_BATCH_SIZE
from bat_pipeline.ml.dataset import SampleSet
from bat_pipeline.ml.model import SequenceNet


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


def predict_part(net: SequenceNet, part: SampleSet, device: torch.device) -> np.ndarray:
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
