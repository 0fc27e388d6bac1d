"""Figures logged with every training run: loss curves, ROC curves, confusion matrix."""

from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curves(history: list[dict]):
    """train/loss and val/loss per epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [h["epoch"] for h in history]
    for key in ("train/loss", "val/loss"):
        ax.plot(epochs, [h.get(key, np.nan) for h in history], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("BCE loss")
    ax.set_title("Loss curves")
    ax.legend()
    fig.tight_layout()
    return fig


def roc_curves(y_true: np.ndarray, curves: dict[str, np.ndarray]):
    """ROC of each model's test probabilities (only when both classes are present)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    if len(np.unique(y_true)) == 2:
        for name, p in curves.items():
            fpr, tpr, _ = roc_curve(y_true, p)
            ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_true, p):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC, test window")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def confusion_matrix_figure(y_true: np.ndarray, p: np.ndarray, threshold: float = 0.5):
    """Counts of predicted vs actual class at `threshold`."""
    from sklearn.metrics import confusion_matrix

    plt = _pyplot()
    matrix = confusion_matrix(y_true.astype(int), (p >= threshold).astype(int), labels=[0, 1])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        ax.text(j, i, str(n), ha="center", va="center")
    ax.set_xticks([0, 1], ["pred 0", "pred 1"])
    ax.set_yticks([0, 1], ["true 0", "true 1"])
    ax.set_title(f"Confusion matrix (threshold {threshold})")
    fig.tight_layout()
    return fig
