"""In-memory image datasets (MNIST-like arrays): the common shape every array loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ImageArrays:
    """Images as uint8 ``(N, H, W, C)`` plus int labels; test arrays are None when the source
    has no test split (one is then held out by `imgexp.dataset.splits`)."""

    x_train: np.ndarray
    y_train: np.ndarray
    class_names: list[str]
    source: str
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.x_train = as_nhwc_uint8(self.x_train)
        self.y_train = np.asarray(self.y_train, dtype=np.int64)
        if self.x_test is not None:
            self.x_test = as_nhwc_uint8(self.x_test)
            self.y_test = np.asarray(self.y_test, dtype=np.int64)


def as_nhwc_uint8(images: np.ndarray) -> np.ndarray:
    """Add the channel axis to ``(N, H, W)`` arrays and check the pixel type."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W[, C]), got {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels 0..255, got dtype {images.dtype}")
    return images


def match_channels(images: np.ndarray, color_mode: str) -> np.ndarray:
    """Convert between 1 and 3 channels so the data matches ``dataset.color_mode``."""
    channels = images.shape[-1]
    if color_mode == "rgb" and channels == 1:
        return np.repeat(images, 3, axis=-1)
    if color_mode == "grayscale" and channels == 3:
        luminance = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.round(luminance)[..., np.newaxis].astype(np.uint8)
    return images
