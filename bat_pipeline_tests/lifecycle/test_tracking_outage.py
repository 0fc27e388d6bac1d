"""MLflow that does not answer: a real tracking URI on a local port where nothing listens
(connections are refused). Each step retries a bounded number of times, then fails with one
line saying what it was doing, where, and what to do; training never starts untracked.
(A SQLite store locked by another process: `test_registry.py`, `test_training.py`.)"""

import logging
import socket
from datetime import date

import lightning as L
import pytest

from bat_pipeline.config import TaskConfig
from bat_pipeline.lifecycle.tracking import TrackingStore, TrackingUnavailableError
from bat_pipeline.ml.model import SequenceNet
from bat_pipeline_tests.lifecycle.test_training import CFG, index_for, spec_for
from bat_pipeline_tests.ml.test_model import make_samples

TRIES = 3


@pytest.fixture
def down_store(tmp_path, monkeypatch):
    """A store whose tracking server is down: its port is bound by this test but not
    listening, so every connection is refused and no other process can take the port."""
    import mlflow

    # MLflow's own HTTP retries back off for minutes; BAT's retries are what is under test.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with socket.socket() as port:
        port.bind(("127.0.0.1", 0))
        yield TrackingStore(
            tracking_uri=f"http://127.0.0.1:{port.getsockname()[1]}",
            artifact_root=str(tmp_path / "artifacts"),
            locks_dir=tmp_path / "locks",
            retry_attempts=TRIES,
            retry_wait_s=0.01,
        )
    mlflow.set_tracking_uri(tracking)  # `activate` pointed the process at the dead server
    mlflow.set_registry_uri(registry)


def assert_one_clear_line(message: str, store: TrackingStore, what: str) -> None:
    assert "\n" not in message
    # what was being done, where, and why it failed ...
    assert message.startswith(
        f"MLflow at {store.tracking_uri} did not answer while trying to {what} ({TRIES} attempts)"
    )
    assert "Connection refused" in message
    # ... and what to do
    assert message.endswith(
        "Start the tracking server, or stop the process that holds its SQLite database "
        "locked, then run again."
    )


def retries_logged(caplog, what: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and f"while trying to {what} (try" in r.getMessage()
    ]


class FitStarted(L.Callback):
    """Records whether Lightning began fitting."""

    def __init__(self) -> None:
        self.started = False

    def on_fit_start(self, trainer, pl_module) -> None:
        self.started = True


def test_training_with_mlflow_down_fails_clear_and_trains_nothing(down_store, tmp_path, caplog):
    from bat_pipeline.lifecycle.training import train_and_track

    samples = make_samples(n=300)
    fit = FitStarted()
    with pytest.raises(TrackingUnavailableError) as down:
        train_and_track(samples, spec_for(samples), index_for(samples), TaskConfig(), CFG,
                        down_store, tmp_path / "ckpt", as_of=date(2024, 4, 1),
                        callbacks=[fit])  # fmt: skip
    assert_one_clear_line(str(down.value), down_store, "open the experiment")
    assert len(retries_logged(caplog, "open the experiment")) == TRIES - 1
    assert not fit.started  # no untracked training ...
    assert not (tmp_path / "ckpt").exists()  # ... and no checkpoint of one


def test_registration_with_mlflow_down_fails_clear(down_store, caplog):
    from bat_pipeline.lifecycle.registration import log_model

    samples = make_samples(n=40)
    net = SequenceNet(n_features=3, n_static=2, hidden_size=4, num_layers=1)
    with pytest.raises(TrackingUnavailableError) as down:
        log_model(net, spec_for(samples), samples, down_store, "0" * 32, threshold=0.5)
    assert_one_clear_line(str(down.value), down_store, "log the weights")
    assert len(retries_logged(caplog, "log the weights")) == TRIES - 1


def test_promotion_with_mlflow_down_fails_clear(down_store, caplog):
    from bat_pipeline.lifecycle.registry import promote

    with pytest.raises(TrackingUnavailableError) as down:
        promote(down_store, "2", [], None, recheck=None, record={"mlflow_run_id": "0" * 32})
    assert_one_clear_line(str(down.value), down_store, "read alias champion")
    assert len(retries_logged(caplog, "read alias champion")) == TRIES - 1


def test_credentials_in_the_tracking_uri_stay_out_of_the_message_and_log(down_store, caplog):
    import dataclasses

    uri = down_store.tracking_uri.replace("http://", "http://bat:" + "s3cret@")
    store = dataclasses.replace(down_store, tracking_uri=uri, _cache={})
    with pytest.raises(TrackingUnavailableError) as down:
        store.experiment_id()
    message = str(down.value)
    assert message.startswith(f"MLflow at {uri.replace(':s3cret@', ':***@')} did not answer")
    assert "Connection refused" in message
    assert "s3cret" not in message and "s3cret" not in caplog.text
