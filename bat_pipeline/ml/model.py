"""The LSTM that reads a user's activity sequence and scores the chance of the target event.

`SequenceNet` is the plain network (usable without Lightning, e.g. for scoring);
`BehaviourLSTM` is the Lightning module that trains it: loss, metrics, optimiser.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC

Batch = tuple[Tensor, Tensor, Tensor]
"""(sequences [b, steps, n_features], static [b, n_static], labels [b]), all float32."""


class NonFiniteLossError(FloatingPointError):
    """The loss of one batch was NaN or ±inf; raised at once so that nothing trains on it."""

    def __init__(self, step: int, stage: str = "train", epoch: int = 0, batch_idx: int = 0):
        self.step, self.stage, self.epoch, self.batch_idx = step, stage, epoch, batch_idx
        super().__init__(
            f"non-finite {stage} loss at global step {step} (epoch {epoch}, batch {batch_idx})"
        )


class SequenceNet(nn.Module):
    """Wide and deep: an LSTM over [batch, steps, n_features] (deep), whose last hidden state,
    joined with the context vector [batch, n_static] (first device and channel, the customer's
    lifetime history) when there is one, goes through an MLP to one logit; with `wide`, a
    linear term of the context is added to that logit, so that what a linear model finds in
    the lifetime features the network has from the first epoch."""

    def __init__(
        self,
        n_features: int,
        n_static: int = 0,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.2,
        wide: bool = False,
    ):
        super().__init__()
        self.n_features, self.n_static = n_features, n_static
        self.lstm = nn.LSTM(
            input_size=n_features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            # PyTorch applies LSTM dropout only between layers; one layer would only warn.
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Sequential(
            nn.Linear(hidden_size + n_static, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, 1),
        )
        self.wide = nn.Linear(n_static, 1) if wide and n_static else None

    def forward(self, sequences: Tensor, static: Tensor | None = None) -> Tensor:
        """Logits [batch] for sequences [batch, steps, n_features] and static [batch, n_static]."""
        _, (h_n, _) = self.lstm(sequences)
        last = h_n[-1]
        if not self.n_static:
            return self.head(last).squeeze(-1)
        if static is None:
            raise ValueError(f"this network expects a static vector of {self.n_static} values")
        logit = self.head(torch.cat([last, static], dim=1))
        if self.wide is not None:
            logit = logit + self.wide(static)
        return logit.squeeze(-1)


class BehaviourLSTM(L.LightningModule):
    """Trains a `SequenceNet` with BCE-with-logits, Adam and a per-epoch exponential LR decay.

    Logs `train/loss`, `val/loss`, `val/auc`, `val/accuracy` once per epoch (accumulated on the
    device, so no per-step host sync beyond the finite check)."""

    def __init__(self, net: SequenceNet, learning_rate: float = 1e-3, lr_decay: float = 1.0):
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        self.net = net
        self.val_auc = BinaryAUROC()
        self.val_accuracy = BinaryAccuracy()

    def forward(self, sequences: Tensor, static: Tensor | None = None) -> Tensor:
        return self.net(sequences, static)

    def _shared_step(self, batch: Batch, stage: str, batch_idx: int = 0) -> Tensor:
        sequences, static, labels = batch
        logits = self.net(sequences, static)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        # One boolean per step is the price of stopping at the step whose loss went NaN/inf.
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                step=self.global_step, stage=stage, epoch=self.current_epoch, batch_idx=batch_idx
            )
        n = labels.shape[0]
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=n)
        if stage == "val":
            probabilities = torch.sigmoid(logits)
            target = labels.long()
            self.val_auc.update(probabilities, target)
            self.val_accuracy.update(probabilities, target)
            self.log("val/auc", self.val_auc, on_step=False, on_epoch=True, batch_size=n)
            self.log("val/accuracy", self.val_accuracy, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train", batch_idx)

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "val", batch_idx)

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "test", batch_idx)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.hparams.lr_decay)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
