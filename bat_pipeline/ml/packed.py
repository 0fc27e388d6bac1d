"""A one-input view of the network for the MLflow model flavor and its signature.

MLflow's pytorch flavor feeds one tensor; BAT's network takes a sequence and a static vector.
`PackedNet` takes float32 [batch, steps, n_features + n_static] (static repeated on every step)
and returns the probability of the target, so `mlflow.pyfunc` users get scores directly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from bat_pipeline.ml.model import SequenceNet


class PackedNet(nn.Module):
    def __init__(self, net: SequenceNet):
        super().__init__()
        self.net = net

    def forward(self, packed: Tensor) -> Tensor:
        n_features = self.net.n_features
        sequences = packed[:, :, :n_features]
        static = packed[:, 0, n_features:] if self.net.n_static else None
        return torch.sigmoid(self.net(sequences, static))

    @staticmethod
    def pack(sequences: np.ndarray, static: np.ndarray) -> np.ndarray:
        steps = sequences.shape[1]
        repeated = np.repeat(static[:, None, :], steps, axis=1)
        return np.concatenate([sequences, repeated], axis=2).astype(np.float32)
