"""scikit-learn's 8x8 digits: real handwritten images shipped with scikit-learn (offline)."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from imgexp.dataset.arrays import ImageArrays


def load(cfg: DictConfig) -> ImageArrays:
    """1,797 images of 8x8 pixels (0..16, scaled to 0..255); no predefined test split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    return ImageArrays(
        x_train=images,
        y_train=digits.target,
        class_names=[str(d) for d in range(10)],
        source="sklearn.datasets.load_digits",
    )
