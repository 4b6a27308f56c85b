"""Training curves (loss and accuracy, train vs validation, per epoch), rendered headless."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # never open a window, whatever the environment says
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def training_curves(history: dict[str, list[float]], title: str = "") -> Figure:
    """One panel per metric (loss, accuracy, ...), train and validation on the same axes."""
    names = [key for key in history if not key.startswith("val_") and key != "learning_rate"]
    figure, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.8), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        epochs = range(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
