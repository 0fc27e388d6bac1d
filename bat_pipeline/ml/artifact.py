"""The model as files: weights (a plain state dict), architecture and feature spec, with a
SHA-256 of the weights so a tampered file is refused (loaded with `weights_only=True`)."""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from bat_pipeline.ml.model import SequenceNet

WEIGHTS_FILE = "state_dict.pt"
META_FILE = "model.json"


class ModelIntegrityError(RuntimeError):
    """A model artifact is missing, changed since it was logged, or not a plain state dict."""


@dataclass(frozen=True)
class ModelFiles:
    """Where a saved model lies and the hash its weights must have."""

    folder: Path
    sha256: str


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def architecture_of(net: SequenceNet) -> dict:
    return {
        "n_features": net.n_features,
        "n_static": net.n_static,
        "hidden_size": net.lstm.hidden_size,
        "num_layers": net.lstm.num_layers,
        "dropout": float(net.lstm.dropout) if net.lstm.num_layers > 1 else 0.0,
        "wide": net.wide is not None,
    }


def save_model(net: SequenceNet, spec: dict, folder: Path, threshold: float = 0.5) -> ModelFiles:
    """Write state_dict.pt + model.json (architecture, feature spec, decision threshold,
    weights hash)."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_FILE
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, weights)
    digest = sha256_of(weights)
    meta = {
        "architecture": architecture_of(net),
        "feature_spec": spec,
        "decision_threshold": threshold,
        "weights_sha256": digest,
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return ModelFiles(folder, digest)


def load_model(folder: Path, expected_sha256: str) -> tuple[SequenceNet, dict, float]:
    """The network, its feature spec and decision threshold, after checking the weights
    against `expected_sha256`."""
    weights, meta_path = folder / WEIGHTS_FILE, folder / META_FILE
    for path in (weights, meta_path):
        if not path.is_file():
            raise ModelIntegrityError(f"model artifact {path} is missing")
    try:
        actual = sha256_of(weights)
    except OSError as exc:
        raise ModelIntegrityError(f"model weights {weights} are unreadable: {exc}") from None
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"model weights {weights} have SHA-256 {actual[:12]}…, but {expected_sha256[:12]}… "
            "was logged: the artifact changed since training; refusing to load it"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        architecture, spec = meta["architecture"], meta["feature_spec"]
        threshold = float(meta.get("decision_threshold", 0.5))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelIntegrityError(
            f"model description {meta_path} is unreadable ({type(exc).__name__}: "
            f"{_one_line(exc)}); refusing to load the model"
        ) from None
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ModelIntegrityError(
            f"{weights} is not a plain tensor state dict: {_one_line(exc)}"
        ) from None
    try:
        net = SequenceNet(**architecture)
        net.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError) as exc:
        # A verified state dict that does not fit the described network: the description
        # was edited, or belongs to other weights.
        raise ModelIntegrityError(
            f"model weights {weights} do not fit the architecture in {meta_path} "
            f"({_one_line(exc)}); refusing to load the model"
        ) from None
    net.eval()
    return net, spec, threshold


def _one_line(exc: BaseException, limit: int = 300) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0].strip() if lines else type(exc).__name__)[:limit]
