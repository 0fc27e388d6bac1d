"""Loading registered models for evaluation and scoring: weights only, hash-checked.

A version is loaded from its run's `weights/` artifact (a plain state dict) after its SHA-256
is compared with the `weights_sha256` tag written at registration; nothing is unpickled
(a tampered or pickled file is refused).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bat_pipeline.features.samples import FeatureSpec
from bat_pipeline.lifecycle.registry import CHAMPION, PREVIOUS, ModelRef, alias_version, model_ref
from bat_pipeline.lifecycle.tracking import TrackingStore, first_line
from bat_pipeline.ml.artifact import ModelIntegrityError, load_model
from bat_pipeline.ml.model import SequenceNet
from bat_pipeline.ml.predict import predict_proba

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A verified network with the feature spec it was trained with."""

    ref: ModelRef
    net: SequenceNet
    spec: FeatureSpec
    threshold: float = 0.5
    #: why another version serves instead of the one asked for (None: the one asked for)
    fallback: str | None = None

    def predict(
        self, sequences: np.ndarray, static: np.ndarray, batch_size: int = 512
    ) -> np.ndarray:
        static_in = static if self.net.n_static else np.zeros((len(sequences), 0), np.float32)
        return predict_proba(self.net, sequences, static_in, batch_size=batch_size)


def load_version(store: TrackingStore, version: str) -> LoadedModel:
    """A registered version, verified: `ModelIntegrityError` when it has no `weights_sha256`
    tag, when its weights artifact is gone or unreadable, or when the files fail their check
    (a version is never loaded unverified). `TrackingUnavailableError` when MLflow itself does
    not answer."""
    ref = model_ref(store, version)
    if not ref.weights_sha256:
        raise ModelIntegrityError(
            f"version {version} of {store.registered_model} has no weights_sha256 tag; "
            "it was not registered by BAT and is not loaded"
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = store.retry(
            lambda: _download_weights(store, ref, tmp),
            f"download the weights of version {version}",
        )
        net, spec, threshold = load_model(Path(folder), ref.weights_sha256)
    try:
        features = FeatureSpec.from_dict(spec)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelIntegrityError(
            f"the feature spec of version {version} is unreadable ({type(exc).__name__}: "
            f"{first_line(exc)}); refusing to load it"
        ) from None
    return LoadedModel(ref=ref, net=net, spec=features, threshold=threshold)


def _download_weights(store: TrackingStore, ref: ModelRef, into: str) -> str:
    """The version's `weights/` artifact, downloaded into `into`. An artifact that is gone or
    cannot be read is a fault of the version, not of MLflow: `ModelIntegrityError` at once,
    never retried."""
    from mlflow.exceptions import MlflowException

    try:
        return store.client().download_artifacts(ref.run_id, "weights", into)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        problem = exc
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        problem = exc
    raise ModelIntegrityError(
        f"the weights artifact of version {ref.version} (run {ref.run_id}) is missing or "
        f"unreadable in the artifact store: {first_line(problem)}"
    ) from None


def load_alias(store: TrackingStore, alias: str) -> LoadedModel | None:
    version = alias_version(store, alias)
    return load_version(store, version) if version is not None else None


#: the version tag recording that a version's weights failed their integrity check
INTEGRITY_TAG = "bat.integrity_failure"


def load_serving_model(store: TrackingStore) -> LoadedModel | None:
    """The champion, verified; if it fails the check (weights tampered, missing or unreadable
    in the artifact store, no `weights_sha256` tag, not a plain state dict), the `previous`
    version with `fallback` saying why, after a loud error and an `INTEGRITY_TAG` on the
    refused version. Never the refused file. None without a champion; ModelIntegrityError
    (one line) when no verified version is left."""
    champion = alias_version(store, CHAMPION)
    if champion is None:
        return None
    try:
        return load_version(store, champion)
    except ModelIntegrityError as exc:
        problem = first_line(exc)
    _record_integrity_failure(store, champion, problem)
    log.error("champion version %s refused: %s", champion, problem)
    name = store.registered_model
    previous = alias_version(store, PREVIOUS)
    if previous is None or previous == champion:
        raise ModelIntegrityError(
            f"champion version {champion} of {name} refused ({problem}) and no previous "
            "version to fall back to: retrain (`bat-pipeline run`) or restore the artifact"
        )
    try:
        model = load_version(store, previous)
    except ModelIntegrityError as exc:
        _record_integrity_failure(store, previous, first_line(exc))
        raise ModelIntegrityError(
            f"champion version {champion} of {name} refused ({problem}) and previous version "
            f"{previous} refused too ({first_line(exc)}): retrain (`bat-pipeline run`) or "
            "restore the artifacts"
        ) from None
    model.fallback = (
        f"champion version {champion} refused ({problem}); serving previous version "
        f"{previous}. Restore the artifact or retrain, then check `bat-pipeline status`."
    )
    log.warning(model.fallback)
    return model


def _record_integrity_failure(store: TrackingStore, version: str, problem: str) -> None:
    """Tag the refused version with when and why (`INTEGRITY_TAG`)."""
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    store.retry(
        lambda: store.client().set_model_version_tag(
            store.registered_model, version, INTEGRITY_TAG, f"{stamp}: {problem}"[:5000]
        ),
        "record the integrity failure",
    )


def champion_task_params(store: TrackingStore) -> dict[str, str] | None:
    """The task settings the champion was trained with (its run's `task.*` params, prefix
    removed, as logged: text), read from MLflow without loading its weights; None when no
    version holds the alias. The bucket among them is what `check_tables_fit` holds the
    feature tables to when it scores."""
    version = alias_version(store, CHAMPION)
    if version is None:
        return None
    client = store.client()
    mv = store.retry(
        lambda: client.get_model_version(store.registered_model, version), "read a version"
    )
    run = store.retry(lambda: client.get_run(mv.run_id), "read a run")
    return {k.removeprefix("task."): v for k, v in run.data.params.items() if k.startswith("task.")}
