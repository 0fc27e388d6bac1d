"""Lightning data over a `SampleSet`: the TRAIN / VAL / TEST parts as in-memory tensors."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from bat_pipeline.ml.dataset import TEST, TRAIN, VAL, SampleSet

EVAL_BATCH_SIZE = 512
"""Rows per evaluation batch: no gradients, and 512 was the fastest scoring batch on CPU."""


class EpochBatches(Sampler[torch.Tensor]):
    """Index batches (1-D int64 tensors) over `n` rows; shuffled by `seed + epoch` when asked.

    Yielding whole batches lets the DataLoader fetch each batch with one tensor index
    instead of `batch_size` item lookups and a stack. Lightning calls `set_epoch` at each
    epoch start, so the order of epoch k is the same whether or not the run was resumed."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int = 0):
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.arange(self.n)
        yield from order.split(self.batch_size)


def tensor_dataset(part: SampleSet) -> TensorDataset:
    """(sequences, static, labels) of one split as float32 tensors sharing the numpy memory."""
    return TensorDataset(
        _as_tensor(part.sequences), _as_tensor(part.static), _as_tensor(part.labels)
    )


def batch_loader(dataset: TensorDataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """A single-process DataLoader yielding (sequences, static, labels) batches."""
    n = len(dataset)
    # batch_size=None: the sampler already yields batches of indices (see EpochBatches).
    return DataLoader(
        dataset, sampler=EpochBatches(n, batch_size, shuffle, seed), batch_size=None, num_workers=0
    )


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


class SampleDataModule(L.LightningDataModule):
    """Train (shuffled by seed and epoch), validation and test loaders over a `SampleSet`.

    Tensors are built once, on first `setup`, from the numpy arrays (no copy when they are
    already contiguous float32)."""

    def __init__(self, samples: SampleSet, batch_size: int = 128, seed: int = 0):
        super().__init__()
        self.samples, self.batch_size, self.seed = samples, batch_size, seed
        self.eval_batch_size = max(batch_size, EVAL_BATCH_SIZE)
        self.datasets: dict[int, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if not self.datasets:
            self.datasets = {s: tensor_dataset(self.samples.part(s)) for s in (TRAIN, VAL, TEST)}

    def train_dataloader(self) -> DataLoader:
        return batch_loader(self.datasets[TRAIN], self.batch_size, shuffle=True, seed=self.seed)

    def val_dataloader(self) -> DataLoader:
        return batch_loader(self.datasets[VAL], self.eval_batch_size, shuffle=False, seed=self.seed)

    def test_dataloader(self) -> DataLoader:
        return batch_loader(
            self.datasets[TEST], self.eval_batch_size, shuffle=False, seed=self.seed
        )
