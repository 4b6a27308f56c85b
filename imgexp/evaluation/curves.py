"""Training curves (loss and accuracy, train vs validation, per epoch), rendered headless."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from imgexp.evaluation.titles import fit_title


def training_curves(history: dict[str, list[float]], title: str = "") -> Figure:
    """One panel per metric (loss, accuracy, ...), train and validation on the same axes."""
    names = [key for key in history if not key.startswith("val_") and key != "learning_rate"]
    # A bare Figure (not pyplot): headless, and nothing kept alive after it is logged.
    figure = Figure(figsize=(5 * len(names), 3.8))
    axes = figure.subplots(1, len(names), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        epochs = range(1, len(history[name]) + 1)
        axis.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        epoch_axis(axis, name)
        axis.legend()
    if title:
        figure.suptitle(fit_title(title, figure.get_figwidth()), fontsize=10)
    figure.tight_layout()
    return figure


def epoch_axis(axis: Axes, metric: str) -> None:
    """The axes of a per-epoch curve, the same in every imgexp figure: whole epochs on x."""
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
