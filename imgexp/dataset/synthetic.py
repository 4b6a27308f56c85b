"""Generated images for smoke tests of every preset without real data: random but learnable
(each class has its own brightness and stripe direction), uint8, of the configured
``image_size``, ``color_mode`` and ``classes`` (default: ten classes named class_0..class_9)."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from imgexp.dataset.arrays import ImageArrays

TRAIN_PER_CLASS, TEST_PER_CLASS = 20, 5
DEFAULT_SIZE, DEFAULT_CLASSES = (32, 32), 10


def class_images(label: int, num_classes: int, count: int, shape, rng) -> np.ndarray:
    """``count`` noisy images whose brightness and stripe orientation encode ``label``."""
    height, width, channels = shape
    level = 40 + 150 * label / max(1, num_classes - 1)
    rows, cols = np.mgrid[0:height, 0:width]
    stripes = np.sin((rows if label % 2 else cols) * (1 + label % 3) * np.pi / 4) * 30
    noise = rng.normal(0, 20, (count, height, width, channels))
    images = level + stripes[None, :, :, None] + noise
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


def load(cfg: DictConfig) -> ImageArrays:
    """20 training and 5 test images per class, shuffled with a fixed seed."""
    class_names = list(cfg.get("classes") or [f"class_{k}" for k in range(DEFAULT_CLASSES)])
    height, width = cfg.get("image_size") or DEFAULT_SIZE
    shape = (int(height), int(width), 1 if cfg.get("color_mode") == "grayscale" else 3)
    rng = np.random.default_rng(0)
    splits = {}
    for split, per_class in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        labels = np.repeat(np.arange(len(class_names)), per_class)
        images = np.concatenate(
            [
                class_images(k, len(class_names), per_class, shape, rng)
                for k in range(len(class_names))
            ]
        )
        order = rng.permutation(len(labels))
        splits[split] = (images[order], labels[order])
    return ImageArrays(
        x_train=splits["train"][0],
        y_train=splits["train"][1],
        x_test=splits["test"][0],
        y_test=splits["test"][1],
        class_names=class_names,
        source="generated (imgexp.dataset.synthetic)",
    )
