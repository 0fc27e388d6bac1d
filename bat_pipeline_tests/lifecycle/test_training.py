"""One tracked training on a real MLflow store (SQLite under tmp_path): the run holds params,
curves, test metrics of both models, plots, lineage, the Dagster link and a registered,
hash-checked model; a failing training leaves a FAILED run and registers nothing."""

from datetime import date

import lightning as L
import numpy as np
import pandas as pd
import pytest

from bat_pipeline.config import ModelConfig, TaskConfig
from bat_pipeline.features.samples import FeatureSpec
from bat_pipeline.ml.artifact import ModelIntegrityError, load_model, save_model
from bat_pipeline.ml.model import SequenceNet
from bat_pipeline_tests.ml.test_model import make_samples

CFG = ModelConfig(
    hidden_size=16, num_layers=1, max_epochs=8, batch_size=64, learning_rate=0.01, seed=1
)


def spec_for(samples) -> FeatureSpec:
    return FeatureSpec(
        event_types=["active", "search"],
        bucket_days=1,
        lookback_buckets=samples.sequences.shape[1],
        lookback_days=samples.sequences.shape[1],
        static_categories={"device": ["mobile", "desktop"], "channel": []},
        scaler_max=[1.0, 1.0, 1.0],
    )


def index_for(samples) -> pd.DataFrame:
    cutoffs = pd.to_datetime(samples.cutoffs) + pd.to_timedelta(samples.split * 7, unit="D")
    return pd.DataFrame(
        {
            "cutoff": cutoffs.date,
            "user_id": samples.user_ids,
            "label": samples.labels,
            "split": samples.split,
        }
    )


def test_training_run_contents(tracking_store, tmp_path):
    from bat_pipeline.lifecycle.training import train_and_track

    samples = make_samples(n=500)
    result = train_and_track(
        samples, spec_for(samples), index_for(samples), TaskConfig(), CFG, tracking_store,
        tmp_path / "ckpt", as_of=date(2024, 4, 1), trigger="schedule",
        dagster_run_id="run-123", dagster_url="http://127.0.0.1:3000/runs/run-123",
    )  # fmt: skip
    client = tracking_store.client()
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "lstm · as-of 2024-04-01 · schedule"
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["model.hidden_size"] == "16" and params["task.horizon_days"] == "14"
    assert params["data.rows"] == "500" and params["data.data_fingerprint"] == result.fingerprint
    for key in ("accuracy", "balanced_accuracy", "auc", "log_loss"):
        assert f"test/{key}" in metrics and f"baseline/test/{key}" in metrics
    assert metrics["test/auc"] > 0.7  # the pattern is learnable
    history = client.get_metric_history(result.run_id, "val/loss")
    assert [m.step for m in history] == list(range(len(result.history)))
    assert len(client.get_metric_history(result.run_id, "train/loss")) == len(result.history)
    assert tags["dagster.run_id"] == "run-123" and tags["bat.trigger"] == "schedule"
    assert "run-123" in tags["dagster.run_url"]
    files = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"lineage.json", "feature_spec.json", "plots", "weights"} <= files
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert plots == {
        "plots/loss_curves.png",
        "plots/roc_test.png",
        "plots/confusion_matrix_test.png",
    }
    assert (
        run.inputs.dataset_inputs
        and run.inputs.dataset_inputs[0].dataset.digest == result.fingerprint
    )
    version = client.get_model_version(tracking_store.registered_model, result.model_version)
    assert version.run_id == result.run_id
    assert version.tags["weights_sha256"] == result.weights_sha256
    assert "AUC" in version.description
    logged = client.get_logged_model(version.model_id) if version.model_id else None
    assert logged is None or logged.name == "model"
    assert not (tmp_path / "ckpt").exists()  # checkpoints only serve a resume after a crash


def test_a_failing_training_leaves_a_failed_run_and_no_version(tracking_store, tmp_path):
    from bat_pipeline.lifecycle.training import train_and_track
    from bat_pipeline.ml.trainable import TrainingError

    samples = make_samples(n=300)
    samples.labels[samples.split == 2] = 0.0  # single-class test window
    with pytest.raises(TrainingError, match="only class 0"):
        train_and_track(samples, spec_for(samples), index_for(samples), TaskConfig(), CFG,
                        tracking_store, tmp_path / "ckpt", as_of=date(2024, 4, 1))  # fmt: skip
    client = tracking_store.client()
    assert not client.search_model_versions(f"name = '{tracking_store.registered_model}'")


def test_non_finite_training_marks_the_run_failed(tracking_store, tmp_path):
    from bat_pipeline.lifecycle.training import train_and_track
    from bat_pipeline.ml.trainable import TrainingError
    from bat_pipeline_tests.ml.test_model import PoisonBatch

    samples = make_samples(n=300)
    with pytest.raises(TrainingError, match="NaN/inf at step"):
        train_and_track(samples, spec_for(samples), index_for(samples), TaskConfig(), CFG,
                        tracking_store, tmp_path / "ckpt", as_of=date(2024, 4, 1),
                        callbacks=[PoisonBatch(epoch=1, batch_idx=1)])  # fmt: skip
    client = tracking_store.client()
    runs = client.search_runs(
        [tracking_store.experiment_id()], order_by=["attributes.start_time DESC"]
    )
    assert runs[0].info.status == "FAILED"
    assert not client.search_model_versions(f"name = '{tracking_store.registered_model}'")


def test_tampered_weights_are_refused(tmp_path):
    net = SequenceNet(n_features=3, n_static=2, hidden_size=4, num_layers=1)
    files = save_model(net, {"k": 1}, tmp_path / "m", threshold=0.4)
    loaded, spec, threshold = load_model(files.folder, files.sha256)
    assert spec == {"k": 1} and threshold == 0.4
    for key, value in net.state_dict().items():
        assert np.array_equal(loaded.state_dict()[key].numpy(), value.numpy())
    weights = files.folder / "state_dict.pt"
    weights.write_bytes(weights.read_bytes()[:-1] + bytes([weights.read_bytes()[-1] ^ 1]))
    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        load_model(files.folder, files.sha256)


def test_a_pickled_object_is_not_unpickled_even_with_a_matching_hash(tmp_path):
    import pickle

    from bat_pipeline.ml.artifact import sha256_of

    net = SequenceNet(n_features=3, n_static=0, hidden_size=4, num_layers=1)
    files = save_model(net, {}, tmp_path / "m")
    weights = files.folder / "state_dict.pt"

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    weights.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelIntegrityError, match="not a plain tensor state dict"):
        load_model(files.folder, sha256_of(weights))


def test_missing_artifact_is_refused(tmp_path):
    with pytest.raises(ModelIntegrityError, match="missing"):
        load_model(tmp_path / "nothing", "0" * 64)


def test_epoch_metrics_that_failed_to_log_are_written_when_training_ends(tracking_store):
    from types import SimpleNamespace

    import torch
    from mlflow.exceptions import MlflowException

    from bat_pipeline.lifecycle.run_logging import MlflowEpochMetrics

    client = tracking_store.client()
    run_id = client.create_run(tracking_store.experiment_id()).info.run_id

    class Unreachable:  # the tracking server refuses the first two writes, then recovers
        def __init__(self) -> None:
            self.refusals = 2

        def log_batch(self, run_id, metrics):
            if self.refusals:
                self.refusals -= 1
                raise MlflowException("injected: tracking server unreachable")
            client.log_batch(run_id, metrics=metrics)

    callback = MlflowEpochMetrics.create(Unreachable(), run_id)
    for epoch, loss in enumerate((0.7, 0.6)):
        trainer = SimpleNamespace(
            current_epoch=epoch, callback_metrics={"train/loss": torch.tensor(loss)}
        )
        callback.on_train_epoch_end(trainer, None)
    assert client.get_metric_history(run_id, "train/loss") == []  # both epochs buffered
    callback.on_train_end(trainer, None)
    history = client.get_metric_history(run_id, "train/loss")
    assert [(m.step, round(m.value, 3)) for m in history] == [(0, 0.7), (1, 0.6)]


def test_a_run_whose_process_was_killed_is_closed_by_the_next_start(tracking_store):
    """A real process opens a run the way training does, then gets SIGKILL."""
    import os
    import signal
    import subprocess
    import sys

    from bat_pipeline.lifecycle.run_owners import REAPED_TAG, close_dead_runs, owner_tags

    script = (
        "import sys, time\n"
        "from mlflow import MlflowClient\n"
        "from bat_pipeline.lifecycle.run_owners import owner_tags\n"
        "client = MlflowClient(sys.argv[1])\n"
        "run = client.create_run(sys.argv[2], tags=owner_tags())\n"
        "print(run.info.run_id, flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, tracking_store.tracking_uri, tracking_store.experiment_id()],
        stdout=subprocess.PIPE,
        text=True,
    )
    killed_run = child.stdout.readline().strip()
    client = tracking_store.client()
    mine = client.create_run(tracking_store.experiment_id(), tags=owner_tags()).info.run_id
    assert close_dead_runs(tracking_store) == []  # both owners alive: nothing to close
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    child.stdout.close()
    assert client.get_run(killed_run).info.status == "RUNNING"

    assert close_dead_runs(tracking_store) == [killed_run]
    closed = client.get_run(killed_run)
    assert closed.info.status == "KILLED" and "was gone" in closed.data.tags[REAPED_TAG]
    assert client.get_run(mine).info.status == "RUNNING"  # this process is alive
    client.set_terminated(mine)


def test_a_tampered_champion_falls_back_to_previous_loudly(tracking_store, tmp_path, caplog):
    from pathlib import Path

    from bat_pipeline.lifecycle.registry import CHAMPION, PREVIOUS
    from bat_pipeline.lifecycle.serving import INTEGRITY_TAG, load_serving_model
    from bat_pipeline.lifecycle.training import train_and_track
    from bat_pipeline.ml.artifact import WEIGHTS_FILE

    samples = make_samples(n=300)
    quick = CFG.model_copy(update={"max_epochs": 1})
    versions = [
        train_and_track(
            samples,
            spec_for(samples),
            index_for(samples),
            TaskConfig(),
            quick,
            tracking_store,
            tmp_path / f"ckpt{i}",
            as_of=date(2024, 4, 1),
            trigger="manual",
        )
        for i in range(2)
    ]
    client = tracking_store.client()
    name = tracking_store.registered_model
    client.set_registered_model_alias(name, PREVIOUS, versions[0].model_version)
    client.set_registered_model_alias(name, CHAMPION, versions[1].model_version)
    assert load_serving_model(tracking_store).fallback is None

    # someone edits the champion's weights in the artifact store
    weights_dir = Path(client.get_run(versions[1].run_id).info.artifact_uri[len("file://") :])
    weights = weights_dir / "weights" / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")

    model = load_serving_model(tracking_store)
    assert model.ref.version == versions[0].model_version
    assert f"champion version {versions[1].model_version} refused" in model.fallback
    tag = client.get_model_version(name, versions[1].model_version).tags[INTEGRITY_TAG]
    assert "the artifact changed since training" in tag
    assert "serving previous version" in caplog.text

    client.delete_registered_model_alias(name, PREVIOUS)  # nothing left to fall back to
    with pytest.raises(ModelIntegrityError, match="no previous version"):
        load_serving_model(tracking_store)


KILLED_TRAINING = """
import os, signal, sys
from datetime import date
from pathlib import Path

import lightning as L
import torch

from bat_pipeline.config import TaskConfig
from bat_pipeline.lifecycle.tracking import TrackingStore
from bat_pipeline.lifecycle.training import train_and_track
from bat_pipeline_tests.lifecycle.test_training import CFG, index_for, spec_for
from bat_pipeline_tests.ml.test_model import make_samples

uri, artifacts, model, checkpoints, max_epochs, epoch, batch = sys.argv[1:]


class KillMidEpoch(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch_, batch_idx):
        if (trainer.current_epoch, batch_idx) == (int(epoch), int(batch)):
            os.kill(os.getpid(), signal.SIGKILL)  # no handler, no cleanup: as the OOM killer


torch.set_num_threads(1)
store = TrackingStore(tracking_uri=uri, artifact_root=artifacts, registered_model=model)
samples = make_samples(n=300)
train_and_track(
    samples, spec_for(samples), index_for(samples), TaskConfig(),
    CFG.model_copy(update={"max_epochs": int(max_epochs)}), store, Path(checkpoints),
    as_of=date(2024, 4, 1), callbacks=[KillMidEpoch()],
)
"""


def test_training_killed_mid_epoch_resumes_from_its_checkpoint(tracking_store, tmp_path):
    """A real training process gets SIGKILL in the middle of its second epoch; the next
    training on the same checkpoint folder continues from the first epoch's checkpoint, closes
    the dead run as KILLED, and only it registers a version."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from bat_pipeline.lifecycle.run_owners import REAPED_TAG
    from bat_pipeline.lifecycle.training import RESUMED_TAG, train_and_track

    checkpoints = tmp_path / "ckpt"
    three = CFG.model_copy(update={"max_epochs": 3})  # 4 training batches per epoch
    store, name = tracking_store, tracking_store.registered_model
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_TRAINING, store.tracking_uri, store.artifact_root, name,
         str(checkpoints), "3", "1", "2"],
        env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _, err = child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL, err[-3000:]

    client = store.client()
    [killed] = client.search_runs(
        [store.experiment_id()], filter_string=f"tags.`bat.pid` = '{child.pid}'"
    )
    killed_id = killed.info.run_id
    assert killed.info.status == "RUNNING"  # a killed process never closes its run
    [epoch0] = client.get_metric_history(killed_id, "train/loss")  # epoch 1 never ended
    assert epoch0.step == 0
    assert (checkpoints / "last.ckpt").is_file()
    assert not client.search_model_versions(f"name = '{name}'")  # nothing registered

    samples = make_samples(n=300)
    result = train_and_track(samples, spec_for(samples), index_for(samples), TaskConfig(),
                             three, store, checkpoints, as_of=date(2024, 4, 1))  # fmt: skip
    assert result.resumed_from == str((checkpoints / "last.ckpt").resolve())
    assert [h["epoch"] for h in result.history] == [0, 1, 2]  # the history continues ...
    assert result.history[0]["train/loss"] == pytest.approx(epoch0.value)
    trained = [m.step for m in client.get_metric_history(result.run_id, "train/loss")]
    assert trained == [1, 2]  # ... and this run trained only the epochs left
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.data.tags[RESUMED_TAG] == result.resumed_from

    closed = client.get_run(killed_id)
    assert closed.info.status == "KILLED" and f"process {child.pid}" in closed.data.tags[REAPED_TAG]
    versions = client.search_model_versions(f"name = '{name}'")
    assert [(str(v.version), v.run_id) for v in versions] == [(result.model_version, result.run_id)]


class LockWhenTrainingEnds(L.Callback):
    """Another process locks the MLflow SQLite file as training ends, before anything is
    logged or registered; the lock is held until `held` closes."""

    def __init__(self, held, db):
        self.held, self.db = held, db

    def on_train_end(self, trainer, pl_module):
        from bat_pipeline_tests.lifecycle.test_registry import locked_by_another_process

        self.held.enter_context(locked_by_another_process(self.db))


@pytest.mark.slow  # MLflow waits 20 s for a locked SQLite file on each call
def test_tracking_locked_after_training_fails_clear_and_registers_nothing(
    tracking_store, tmp_path, caplog
):
    import contextlib
    import dataclasses
    from pathlib import Path

    from bat_pipeline.lifecycle.tracking import TrackingUnavailableError
    from bat_pipeline.lifecycle.training import train_and_track

    store = dataclasses.replace(tracking_store, retry_attempts=1)
    db = Path(store.tracking_uri.removeprefix("sqlite:///"))
    samples = make_samples(n=300)
    with contextlib.ExitStack() as held, pytest.raises(TrackingUnavailableError) as locked:
        train_and_track(samples, spec_for(samples), index_for(samples), TaskConfig(),
                        CFG.model_copy(update={"max_epochs": 2}), store, tmp_path / "ckpt",
                        as_of=date(2024, 4, 1), dagster_run_id="locked-after-training",
                        callbacks=[LockWhenTrainingEnds(held, db)])  # fmt: skip
    # the error that ended the run, not a failure to close it: one line, what, where, what to do
    message = str(locked.value)
    assert "\n" not in message
    assert message.startswith(
        f"MLflow at {store.tracking_uri} did not answer while trying to log test metrics "
        "(1 attempt): (sqlite3.OperationalError) database is locked. Start the tracking server"
    )
    assert any("could not mark MLflow run" in r.getMessage() for r in caplog.records)
    client = store.client()
    assert not client.search_model_versions(f"name = '{store.registered_model}'")
    [run] = client.search_runs(
        [store.experiment_id()], filter_string="tags.`dagster.run_id` = 'locked-after-training'"
    )
    assert run.info.status == "RUNNING"  # MLflow could not be told; closed once this process ends
    assert (tmp_path / "ckpt" / "last.ckpt").is_file()  # kept: the next training resumes
    client.set_terminated(run.info.run_id, status="FAILED")
