"""A grid of test images with their true and predicted labels (misclassified ones first)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure


def sample_grid(
    images: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: list[str],
    columns: int = 5,
) -> Figure:
    """One cell per image, titled ``true`` / ``predicted (probability)``: red when wrong."""
    count = len(images)
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    height = 2.5 * rows + 0.5
    figure = Figure(figsize=(2.2 * columns, height))
    # Fixed margins: a layout engine over 25 axes costs seconds per run, for nothing here.
    figure.subplots_adjust(
        left=0.02, right=0.98, bottom=0.01, top=1 - 0.85 / height, wspace=0.1, hspace=0.35
    )
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis in axes:
        axis.axis("off")
    for axis, image, label, guess, probability in zip(
        axes, images, true, predicted, confidence, strict=False
    ):
        if image.shape[-1] == 1:
            axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        else:
            axis.imshow(image)
        wrong = int(label) != int(guess)
        true_name, predicted_name = class_names[int(label)], class_names[int(guess)]
        axis.set_title(
            f"true: {true_name}\npred: {predicted_name} ({probability:.2f})",
            fontsize=8,
            color="tab:red" if wrong else "tab:green",
        )
    figure.suptitle("test samples, misclassified first (red)", fontsize=10, y=1 - 0.1 / height)
    return figure
