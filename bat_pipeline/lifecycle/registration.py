"""Registering a trained network as a new version of the MLflow model: hash-checked weights,
the pytorch model with signature and input example, descriptions and version tags."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bat_pipeline.features.samples import FeatureSpec
from bat_pipeline.lifecycle.tracking import TrackingStore
from bat_pipeline.ml.artifact import save_model
from bat_pipeline.ml.dataset import SampleSet
from bat_pipeline.ml.packed import PackedNet


def log_model(
    net, spec: FeatureSpec, samples: SampleSet, store: TrackingStore, run_id: str, threshold: float
):
    """Weights (hash-checked) + the MLflow pytorch model with signature and input example,
    registered as a new version. Returns (version, sha256)."""
    import mlflow
    import torch
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as tmp:
        files = save_model(net, spec.to_dict(), Path(tmp) / "weights", threshold)
        store.retry(
            lambda: store.client().log_artifacts(run_id, str(files.folder), "weights"),
            "log the weights",
        )
    packed = PackedNet(net).eval()
    example = PackedNet.pack(samples.sequences[:2], samples.static[:2])
    with torch.inference_mode():
        output = packed(torch.from_numpy(example)).numpy()
    info = store.retry(
        lambda: mlflow.pytorch.log_model(
            packed,
            name="model",
            signature=infer_signature(example, output),
            input_example=example,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "bat_pipeline"],
        ),
        "log the pytorch model",
    )
    # the version is created with its hash tag: no version exists without it, even if the
    # process dies right after registering
    version = store.retry(
        lambda: mlflow.register_model(
            info.model_uri,
            store.registered_model,
            await_registration_for=0,
            tags={"weights_sha256": files.sha256, "run_id": run_id},
        ),
        "register the model version",
    )
    return str(version.version), files.sha256


MODEL_DESCRIPTION = (
    "BAT customer-behaviour LSTM: P(target event within the horizon) per customer from their "
    "activity sequence. @champion serves scores; @previous is kept for rollback. Each version "
    "carries weights_sha256 (checked before loading), data_fingerprint, as_of and trigger."
)


def describe_version(
    client, store, version, run_id, as_of, trigger, fingerprint, sha, metrics, base
) -> None:
    def fmt(v):
        return "n/a" if v is None else f"{v:.3f}"

    store.retry(
        lambda: client.update_registered_model(
            store.registered_model, description=MODEL_DESCRIPTION
        ),
        "describe the registered model",
    )
    store.retry(
        lambda: client.set_registered_model_tag(
            store.registered_model, "task", "customer behaviour"
        ),
        "tag the registered model",
    )
    store.retry(
        lambda: client.update_model_version(
            store.registered_model,
            version,
            description=(
                f"LSTM trained as of {as_of} ({trigger}). Test AUC {fmt(metrics.get('auc'))}, "
                f"accuracy {fmt(metrics.get('accuracy'))}; baseline AUC {fmt(base.get('auc'))}."
            ),
        ),
        "describe the model version",
    )
    for key, value in {
        "weights_sha256": sha,
        "data_fingerprint": fingerprint,
        "as_of": as_of.isoformat(),
        "trigger": trigger,
        "run_id": run_id,
    }.items():
        store.retry(
            lambda k=key, v=value: client.set_model_version_tag(
                store.registered_model, version, k, v
            ),
            "tag the version",
        )
