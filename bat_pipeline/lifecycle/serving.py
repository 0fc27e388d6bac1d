"""Loading registered models for evaluation and scoring: weights only, hash-checked.

A version is loaded from its run's `weights/` artifact (a plain state dict) after its SHA-256
is compared with the `weights_sha256` tag written at registration; nothing is unpickled
(a tampered or pickled file is refused).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bat_pipeline.features.samples import FeatureSpec
from bat_pipeline.lifecycle.registry import ModelRef, alias_version, model_ref
from bat_pipeline.lifecycle.tracking import TrackingStore, retry
from bat_pipeline.ml.artifact import ModelIntegrityError, load_model
from bat_pipeline.ml.model import SequenceNet
from bat_pipeline.ml.predict import predict_proba


@dataclass
class LoadedModel:
    """A verified network with the feature spec it was trained with."""

    ref: ModelRef
    net: SequenceNet
    spec: FeatureSpec
    threshold: float = 0.5

    def predict(
        self, sequences: np.ndarray, static: np.ndarray, batch_size: int = 512
    ) -> np.ndarray:
        static_in = static if self.net.n_static else np.zeros((len(sequences), 0), np.float32)
        return predict_proba(self.net, sequences, static_in, batch_size=batch_size)


def load_version(store: TrackingStore, version: str) -> LoadedModel:
    ref = model_ref(store, version)
    if not ref.weights_sha256:
        raise ModelIntegrityError(
            f"version {version} of {store.registered_model} has no weights_sha256 tag; "
            "it was not registered by BAT and is not loaded"
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = retry(
            lambda: store.client().download_artifacts(ref.run_id, "weights", tmp),
            f"download the weights of version {version}",
        )
        net, spec, threshold = load_model(Path(folder), ref.weights_sha256)
    return LoadedModel(ref=ref, net=net, spec=FeatureSpec.from_dict(spec), threshold=threshold)


def load_alias(store: TrackingStore, alias: str) -> LoadedModel | None:
    version = alias_version(store, alias)
    return load_version(store, version) if version is not None else None
