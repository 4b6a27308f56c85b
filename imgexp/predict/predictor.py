"""Predicts image files with a loaded model: read each file (bad ones reported and skipped),
stack the readable ones, one direct model call per batch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imgexp.predict.images import DEFAULT_MAX_PIXELS, ImageError, Problem, load_image
from imgexp.predict.source import LoadedModel


@dataclass
class Prediction:
    """The class probabilities of one file."""

    path: str
    probabilities: np.ndarray  # (K,) float32

    def top(self, class_names: list[str], k: int) -> list[tuple[str, float]]:
        """The ``k`` most probable classes, most probable first."""
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(class_names[index], float(self.probabilities[index])) for index in order]


def read_images(
    loaded: LoadedModel, files: list[Path], max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[list[Path], np.ndarray, list[Problem]]:
    """The readable files and their model-ready uint8 pixels; the others as problems."""
    readable: list[Path] = []
    pixels: list[np.ndarray] = []
    problems: list[Problem] = []
    for path in files:
        try:
            pixels.append(load_image(path, loaded.image_size, loaded.channels, max_pixels))
            readable.append(path)
        except ImageError as error:
            problems.append(Problem(str(path), str(error).removeprefix(f"{path}: ")))
    stacked = np.stack(pixels) if pixels else np.zeros((0, 1, 1, loaded.channels), np.uint8)
    return readable, stacked, problems


def predict_pixels(loaded: LoadedModel, pixels: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Class probabilities ``(N, K)`` of uint8 images, by direct (eager) model calls."""
    import keras

    outputs = [
        keras.ops.convert_to_numpy(
            loaded.model(pixels[start : start + batch_size], training=False)
        )
        for start in range(0, len(pixels), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float32) if outputs else np.zeros((0, 0), np.float32)


def predict_files(
    loaded: LoadedModel,
    files: list[Path],
    batch_size: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[list[Prediction], list[Problem]]:
    """Predict every readable file; unreadable ones come back as problems (in file order)."""
    readable, pixels, problems = read_images(loaded, files, max_pixels)
    probabilities = predict_pixels(loaded, pixels, batch_size)
    predictions = [
        Prediction(str(path), row) for path, row in zip(readable, probabilities, strict=True)
    ]
    return predictions, problems
