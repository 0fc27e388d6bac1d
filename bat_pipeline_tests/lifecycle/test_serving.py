"""Serving a champion whose artifact is broken, on a real MLflow store (SQLite + local
artifacts under tmp_path): the fault is made in the store itself, the champion is refused,
tagged and logged, and `@previous` serves; with nothing to fall back to, one clear line."""

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from bat_pipeline.lifecycle.registry import CHAMPION, PREVIOUS
from bat_pipeline.lifecycle.serving import INTEGRITY_TAG, load_serving_model
from bat_pipeline.ml.artifact import META_FILE, ModelIntegrityError, load_model, save_model
from bat_pipeline.ml.model import SequenceNet
from bat_pipeline_tests.lifecycle.test_training import spec_for
from bat_pipeline_tests.ml.test_model import make_samples


def register_version(store, seed: int) -> tuple[str, str]:
    """A version registered the way training registers one (hash-tagged weights under the
    run's `weights/` artifact, the pytorch model, the version); (version, run_id)."""
    import mlflow
    import torch

    from bat_pipeline.lifecycle.registration import log_model

    torch.manual_seed(seed)
    samples = make_samples(n=40, seed=seed)
    net = SequenceNet(n_features=3, n_static=2, hidden_size=4, num_layers=1)
    client = store.client()
    run_id = client.create_run(store.experiment_id()).info.run_id
    with mlflow.start_run(run_id=run_id):
        version, _ = log_model(net, spec_for(samples), samples, store, run_id, threshold=0.5)
    return version, run_id


def artifact_folder(store, run_id: str) -> Path:
    return Path(store.client().get_run(run_id).info.artifact_uri.removeprefix("file://"))


def serves(model) -> bool:
    """The loaded network scores a batch into probabilities."""
    steps = model.spec.lookback_buckets
    p = model.predict(np.zeros((3, steps, 3), np.float32), np.zeros((3, 2), np.float32))
    return p.shape == (3,) and bool(((p > 0) & (p < 1)).all())


def refusals(caplog, version: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and f"champion version {version} refused" in r.getMessage()
    ]


def test_a_champion_whose_weights_folder_was_deleted_falls_back_to_previous(tracking_store, caplog):
    previous, _ = register_version(tracking_store, seed=1)
    champion, champion_run = register_version(tracking_store, seed=2)
    client, name = tracking_store.client(), tracking_store.registered_model
    client.set_registered_model_alias(name, PREVIOUS, previous)
    client.set_registered_model_alias(name, CHAMPION, champion)
    assert load_serving_model(tracking_store).ref.version == champion

    # someone deletes the champion's whole weights folder from the artifact store
    shutil.rmtree(artifact_folder(tracking_store, champion_run) / "weights")

    model = load_serving_model(tracking_store)
    assert model.ref.version == previous and serves(model)
    assert model.fallback.startswith(f"champion version {champion} refused (the weights artifact")
    assert f"serving previous version {previous}" in model.fallback
    tag = client.get_model_version(name, champion).tags[INTEGRITY_TAG]
    assert f"version {champion} (run {champion_run}) is missing or unreadable" in tag
    assert refusals(caplog, champion)  # logged as an error, not only returned

    client.delete_registered_model_alias(name, PREVIOUS)  # nothing left to fall back to
    with pytest.raises(ModelIntegrityError) as refused:
        load_serving_model(tracking_store)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"champion version {champion} of {name} refused (the weights")
    assert message.endswith("no previous version to fall back to: retrain (`bat-pipeline run`) "
                            "or restore the artifact")  # fmt: skip


def test_a_champion_without_a_weights_hash_tag_is_never_loaded_and_previous_serves(
    tracking_store, caplog
):
    previous, run_id = register_version(tracking_store, seed=3)
    client, name = tracking_store.client(), tracking_store.registered_model
    # A version registered by hand from BAT's own run: its files are intact and would load,
    # but nothing says which weights were registered, so they cannot be verified.
    unverified = str(client.create_model_version(name, f"runs:/{run_id}/model", run_id).version)
    assert "weights_sha256" not in client.get_model_version(name, unverified).tags
    client.set_registered_model_alias(name, PREVIOUS, previous)
    client.set_registered_model_alias(name, CHAMPION, unverified)

    model = load_serving_model(tracking_store)
    assert model.ref.version == previous and serves(model)
    assert f"champion version {unverified} refused" in model.fallback
    assert "has no weights_sha256 tag" in model.fallback
    tag = client.get_model_version(name, unverified).tags[INTEGRITY_TAG]
    assert "has no weights_sha256 tag" in tag
    assert refusals(caplog, unverified)

    # the tag removed from the previous version too: nothing verified is left
    client.delete_model_version_tag(name, previous, "weights_sha256")
    with pytest.raises(ModelIntegrityError) as refused:
        load_serving_model(tracking_store)
    message = str(refused.value)
    assert "\n" not in message
    assert f"champion version {unverified} of {name} refused" in message
    assert f"previous version {previous} refused too" in message
    assert INTEGRITY_TAG in client.get_model_version(name, previous).tags


def _other_architecture(meta: dict) -> str:
    return json.dumps({**meta, "architecture": {**meta["architecture"], "hidden_size": 8}})


DAMAGES = {
    "not-json": (lambda meta: "{not json", "model description .* is unreadable"),
    "fields-gone": (
        lambda meta: '{"decision_threshold": 0.5}',
        "model description .* is unreadable",
    ),
    "other-architecture": (_other_architecture, "do not fit the architecture"),
}


@pytest.mark.parametrize(("damage", "expected"), list(DAMAGES.values()), ids=list(DAMAGES))
def test_an_unreadable_model_description_is_refused(tmp_path, damage, expected):
    net = SequenceNet(n_features=3, n_static=2, hidden_size=4, num_layers=1)
    files = save_model(net, {"k": 1}, tmp_path / "m")
    meta_path = files.folder / META_FILE
    meta_path.write_text(damage(json.loads(meta_path.read_text())))
    with pytest.raises(ModelIntegrityError, match=expected) as refused:
        load_model(files.folder, files.sha256)  # the weights themselves are intact
    assert "\n" not in str(refused.value)
