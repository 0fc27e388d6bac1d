"""Model tests: the LSTM learns, resumes safely, stops on NaN; metrics and the baseline.

The synthetic samples have a learnable rule: label 1 iff feature 0 was active in one of the
last three buckets. Configs are tiny so that the whole file runs in seconds on CPU.
"""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from bat_pipeline.config import ModelConfig
from bat_pipeline.ml.baseline import fit_baseline
from bat_pipeline.ml.checkpoints import validate_checkpoint
from bat_pipeline.ml.dataset import TEST, TRAIN, SampleSet
from bat_pipeline.ml.fit import lightning_precision, train_lstm
from bat_pipeline.ml.metrics import bootstrap_ci, bootstrap_intervals, classification_metrics
from bat_pipeline.ml.model import SequenceNet
from bat_pipeline.ml.predict import predict_proba
from bat_pipeline.ml.trainable import TrainingError, check_trainable

TINY = ModelConfig(
    hidden_size=16,
    num_layers=1,
    dropout=0.1,
    learning_rate=1e-2,
    batch_size=32,
    max_epochs=2,
    patience=10,
    seed=7,
    accelerator="cpu",
)


def make_samples(n: int = 600, steps: int = 10, seed: int = 0) -> SampleSet:
    """Sparse binary activity of 3 features; label = feature 0 active in the last 3 steps."""
    rng = np.random.default_rng(seed)
    sequences = (rng.random((n, steps, 3)) < 0.25).astype(np.float32)
    labels = sequences[:, -3:, 0].max(axis=1)
    static = np.eye(2, dtype=np.float32)[rng.integers(0, 2, n)]
    n_train, n_val = int(n * 0.7), int(n * 0.15)
    split = np.repeat(np.array([0, 1, 2], np.int8), [n_train, n_val, n - n_train - n_val])
    recency = steps - 1 - np.argmax(sequences[:, ::-1, 0], axis=1)
    baseline = np.stack([recency, sequences.sum(axis=(1, 2)), rng.random(n)], axis=1)
    return SampleSet(
        sequences=sequences,
        static=static,
        labels=labels,
        split=split,
        user_ids=np.array([f"u{i}" for i in range(n)]),
        cutoffs=np.full(n, np.datetime64("2024-03-01"), dtype="datetime64[D]"),
        baseline_features=baseline.astype(np.float32),
        feature_names=["active", "search", "value"],
        static_names=["mobile", "desktop"],
        baseline_names=["recency", "frequency", "monetary"],
    )


@pytest.fixture(scope="module")
def samples() -> SampleSet:
    return make_samples()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and spin-waiting threads crawl on a busy box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _with(samples: SampleSet, **arrays: np.ndarray) -> SampleSet:
    fields = {k: getattr(samples, k) for k in SampleSet.__dataclass_fields__}
    return SampleSet(**(fields | arrays))


def _ckpts(path: Path) -> list[str]:
    return sorted(p.name for p in path.glob("*.ckpt"))


# --------------------------------------------------------------------------- the network


def test_net_overfits_one_batch():
    torch.manual_seed(0)
    x, ctx = torch.rand(32, 10, 3), torch.rand(32, 2)
    y = (torch.rand(32) < 0.5).float()  # random labels: only memorisation fits them
    net = SequenceNet(3, 2, hidden_size=32, num_layers=1, dropout=0.0)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(300):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x, ctx), y)
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.05


def test_predict_proba_is_eval_mode_and_restores_mode():
    net = SequenceNet(3, 2, hidden_size=8, num_layers=2, dropout=0.5).train()
    x, ctx = np.random.rand(50, 10, 3).astype(np.float32), np.eye(2, dtype=np.float32)[[0] * 50]
    first, second = predict_proba(net, x, ctx, batch_size=16), predict_proba(net, x, ctx)
    assert first.shape == (50,) and ((first > 0) & (first < 1)).all()
    np.testing.assert_allclose(first, second, rtol=1e-5)  # dropout off, batching irrelevant
    assert net.training


# --------------------------------------------------------------------------- training


def test_training_learns_the_pattern_quietly(samples, tmp_path, capfd, caplog):
    result = train_lstm(samples, TINY.model_copy(update={"max_epochs": 8}), tmp_path)
    y_test = samples.labels[samples.split == TEST]
    auc = roc_auc_score(y_test, result.test_probabilities)
    accuracy = classification_metrics(y_test, result.test_probabilities)["accuracy"]
    assert auc > 0.9
    assert accuracy > max(y_test.mean(), 1 - y_test.mean()) + 0.1  # beats the majority class
    assert [h["epoch"] for h in result.history] == list(range(result.epochs_run))
    assert set(result.history[0]) == {"epoch", "train/loss", "val/loss", "val/auc", "val/accuracy"}
    assert result.best_checkpoint.is_file() and result.resumed_from is None
    assert math.isfinite(result.train_loss) and math.isfinite(result.val_loss)
    assert result.device == "cpu" and result.samples_per_second > 0
    out = capfd.readouterr()
    printed = out.out + out.err + "".join(r.getMessage() for r in caplog.records)
    assert "GPU available" not in printed and "Seed set" not in printed


def test_bfloat16_training_learns_the_pattern_and_keeps_float32_weights(samples, tmp_path):
    cfg = TINY.model_copy(update={"max_epochs": 8, "precision": "bf16"})
    assert lightning_precision(cfg, "cpu") == "bf16-mixed"
    assert lightning_precision(TINY, "cpu") == "32-true"
    result = train_lstm(samples, cfg, tmp_path)
    assert roc_auc_score(samples.labels[samples.split == TEST], result.test_probabilities) > 0.9
    assert {p.dtype for p in result.net.parameters()} == {torch.float32}


def test_resume_continues_an_interrupted_run_exactly(samples, tmp_path):
    first = train_lstm(samples, TINY, tmp_path / "resumed")
    assert first.epochs_run == 2 and first.resumed_from is None
    four = TINY.model_copy(update={"max_epochs": 4})
    resumed = train_lstm(samples, four, tmp_path / "resumed")
    assert resumed.resumed_from == (tmp_path / "resumed" / "last.ckpt").resolve()
    assert resumed.epochs_run == 2
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2, 3]
    straight = train_lstm(samples, four, tmp_path / "straight")
    # Same data order, optimiser, LR schedule and dropout RNG as an uninterrupted run.
    assert [h["val/loss"] for h in resumed.history] == pytest.approx(
        [h["val/loss"] for h in straight.history], rel=1e-5
    )


def test_checkpoints_of_other_data_or_config_are_not_resumed(samples, tmp_path):
    train_lstm(samples, TINY, tmp_path)
    other = train_lstm(samples, TINY.model_copy(update={"seed": 8, "max_epochs": 3}), tmp_path)
    assert other.resumed_from is None and other.epochs_run == 3
    again = train_lstm(
        samples, TINY.model_copy(update={"seed": 8, "max_epochs": 3}), tmp_path, resume=False
    )
    assert again.resumed_from is None and again.epochs_run == 3


def test_early_stopped_run_is_not_trained_again(samples, tmp_path):
    # An LR far below float32 resolution leaves the weights, hence val/loss, unchanged.
    frozen = TINY.model_copy(update={"learning_rate": 1e-12, "patience": 1, "max_epochs": 6})
    first = train_lstm(samples, frozen, tmp_path)
    assert first.epochs_run == 2  # epoch 1 did not improve on epoch 0
    again = train_lstm(samples, frozen.model_copy(update={"max_epochs": 9}), tmp_path)
    assert again.epochs_run == 0 and again.resumed_from == (tmp_path / "last.ckpt").resolve()
    assert again.history == first.history and again.best_checkpoint == first.best_checkpoint


def test_corrupt_last_checkpoint_falls_back_to_previous(samples, tmp_path):
    train_lstm(samples, TINY, tmp_path)
    last = tmp_path / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    result = train_lstm(samples, TINY.model_copy(update={"max_epochs": 3}), tmp_path)
    assert result.resumed_from.name.endswith(".ckpt") and "epoch=1-" in result.resumed_from.name
    assert result.epochs_run == 1 and len(result.history) == 3
    assert (tmp_path / "last.ckpt.corrupt").is_file()  # kept for forensics, never resumed
    validate_checkpoint(tmp_path / "last.ckpt")  # rewritten, valid


def test_no_valid_checkpoint_fails_loudly(samples, tmp_path):
    train_lstm(samples, TINY, tmp_path)
    for path in tmp_path.glob("*.ckpt"):
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match=r"cannot resume: no valid checkpoint.*last\.ckpt"):
        train_lstm(samples, TINY.model_copy(update={"max_epochs": 3}), tmp_path)


class PoisonBatch(L.Callback):
    """Puts a NaN into the inputs of one training batch (after the pre-train checks)."""

    def __init__(self, epoch: int, batch_idx: int):
        self.epoch, self.batch_idx = epoch, batch_idx

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch_idx):
            batch[0][0, 0, 0] = float("nan")


def test_nan_loss_stops_at_that_step_and_no_nan_checkpoint(samples, tmp_path):
    steps_per_epoch = math.ceil((samples.split == TRAIN).sum() / TINY.batch_size)
    with pytest.raises(TrainingError, match=rf"NaN/inf at step {steps_per_epoch + 3} "):
        train_lstm(samples, TINY, tmp_path, callbacks=[PoisonBatch(epoch=1, batch_idx=3)])
    assert _ckpts(tmp_path)  # epoch 0 was saved ...
    for path in tmp_path.glob("*.ckpt"):
        validate_checkpoint(path)  # ... and holds only finite weights


@pytest.mark.parametrize("split_name, split", [("train", 0), ("test", 2)])
def test_single_class_window_fails_before_training(samples, tmp_path, split_name, split):
    labels = samples.labels.copy()
    labels[samples.split == split] = 0.0
    with pytest.raises(TrainingError, match=f"the {split_name} window has only class 0"):
        train_lstm(_with(samples, labels=labels), TINY, tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()


def test_empty_and_non_finite_inputs_fail_clearly(samples):
    split = samples.split.copy()
    split[split == 1] = 0
    with pytest.raises(TrainingError, match="the val window is empty"):
        check_trainable(_with(samples, split=split))
    sequences = samples.sequences.copy()
    sequences[5, 2, 1] = np.inf
    with pytest.raises(TrainingError, match=r"sample 5 \(user u5.*step 2, feature 'search'"):
        check_trainable(_with(samples, sequences=sequences))


# --------------------------------------------------------------------------- metrics, baseline


def test_metrics_defined_and_undefined():
    y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])
    m = classification_metrics(y, p)
    assert m["accuracy"] == 0.5 and m["auc"] == 0.75 and m["balanced_accuracy"] == 0.5
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.9])))
    one_class = classification_metrics(np.zeros(4), p)
    assert one_class["auc"] is None and one_class["balanced_accuracy"] is None
    assert one_class["log_loss"] is None and one_class["accuracy"] == 0.5
    assert set(classification_metrics(y, np.array([0.1, np.nan, 0.4, 0.9])).values()) == {None}


def test_bootstrap_ci():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    low, high = bootstrap_ci(y, p, "auc", n=100, seed=1)
    assert low < roc_auc_score(y, p) < high and high - low < 0.2
    assert bootstrap_ci(np.ones(300), p, "auc") is None


def test_bootstrap_intervals_equal_the_resampling_loop():
    """Row counts and one sort give the intervals of resampling rows and recomputing, ties
    (rounded probabilities) included."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    p = np.round(np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1), 2)
    fast = bootstrap_intervals(y, p, accuracy_threshold=0.4, n=50, seed=7)
    accuracy = bootstrap_ci(
        y, p, lambda yy, pp: float(np.mean((pp >= 0.4) == (yy == 1))), n=50, seed=7
    )
    assert fast["auc"] == pytest.approx(bootstrap_ci(y, p, "auc", n=50, seed=7), abs=1e-12)
    assert fast["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    one_class = bootstrap_intervals(np.ones(50), p[:50], n=20)
    assert one_class["auc"] is None and one_class["accuracy"] is not None


def test_baseline_fits_and_predicts_probabilities(samples):
    model = fit_baseline(samples)
    test = samples.part(TEST)
    p = model.predict_proba(test)
    assert p.shape == (len(test),) and ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(test.labels, p) > 0.7  # recency carries the rule
    labels = samples.labels.copy()
    labels[samples.split == TRAIN] = 1.0
    with pytest.raises(ValueError, match="train window has only class 1"):
        fit_baseline(_with(samples, labels=labels))


def test_progress_reports_one_line_per_epoch_with_losses_auc_and_time_left(samples, tmp_path):
    from bat_pipeline.ml.progress import EpochProgress, duration

    lines: list[str] = []
    three = TINY.model_copy(update={"max_epochs": 3})
    result = train_lstm(samples, three, tmp_path, callbacks=[EpochProgress(lines.append)])
    assert len(lines) == result.epochs_run == 3
    for number, (line, row) in enumerate(zip(lines, result.history, strict=True), 1):
        assert line.startswith(f"epoch {number}/3, train loss {row['train/loss']:.4f}, ")
        assert f"val loss {row['val/loss']:.4f}, val AUC {row['val/auc']:.4f}, " in line
        assert line.endswith("/epoch") == (number == 3)  # the last epoch has nothing left
    assert "at most" in lines[0] and " left" in lines[0]
    # a resumed run counts on from where it stopped
    lines.clear()
    five = TINY.model_copy(update={"max_epochs": 5})
    train_lstm(samples, five, tmp_path, callbacks=[EpochProgress(lines.append)])
    assert [line.split(",")[0] for line in lines] == ["epoch 4/5", "epoch 5/5"]
    assert [duration(s) for s in (42, 185, 3720)] == ["42 s", "3 min 5 s", "1 h 2 min"]
