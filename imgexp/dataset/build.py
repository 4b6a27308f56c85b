"""Turns a ``dataset`` config into a `DataBundle`: load, split, match channels, pipeline."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
from hydra.utils import get_method
from omegaconf import DictConfig

from imgexp.dataset import pipeline, splits
from imgexp.dataset.arrays import ImageArrays, match_channels
from imgexp.dataset.bundle import DataBundle


def build_data(
    cfg: DictConfig, batch_size: int, seed: int, augment: Callable | None = None
) -> DataBundle:
    """Load the dataset named by ``cfg._target_`` and build its batched splits."""
    loaded = get_method(cfg._target_)(cfg)
    if isinstance(loaded, ImageArrays):
        return bundle_from_arrays(cfg, loaded, batch_size, seed, augment)
    raise TypeError(f"{cfg._target_} returned {type(loaded).__name__}, not ImageArrays")


def bundle_from_arrays(
    cfg: DictConfig, data: ImageArrays, batch_size: int, seed: int, augment: Callable | None
) -> DataBundle:
    """Split in-memory arrays as configured and wrap each split in a tf.data pipeline."""
    x_train, y_train = data.x_train, data.y_train
    x_test, y_test = data.x_test, data.y_test
    if x_test is None:
        kept, held = splits.stratified_holdout(y_train, float(cfg.test_size), seed=0)
        x_train, y_train, x_test, y_test = (
            x_train[kept],
            y_train[kept],
            x_train[held],
            y_train[held],
        )
    x_train, y_train, x_test, y_test, class_names = select_classes(
        cfg.get("classes"), data.class_names, x_train, y_train, x_test, y_test
    )
    x_val = y_val = None
    source = cfg.validation.source
    if source == "train":
        kept, taken = splits.validation_indices(y_train, cfg.validation)
        x_train, y_train, x_val, y_val = (
            x_train[kept],
            y_train[kept],
            x_train[taken],
            y_train[taken],
        )
    elif source == "test":
        x_val, y_val = x_test, y_test
    elif source == "dir":
        raise ValueError(
            f"dataset.validation.source=dir needs a folder dataset with a val/ directory; "
            f"{cfg.name} is an in-memory dataset: use train, test or none"
        )
    x_train, x_test = (
        match_channels(x_train, cfg.color_mode),
        match_channels(x_test, cfg.color_mode),
    )
    if x_val is not None:
        x_val = match_channels(x_val, cfg.color_mode)
    image_size = tuple(cfg.image_size) if cfg.get("image_size") else x_train.shape[1:3]

    def make(x: np.ndarray, y: np.ndarray, training: bool):
        return pipeline.from_arrays(
            x, y, batch_size, training=training, seed=seed,
            shuffle_buffer=int(cfg.shuffle_buffer), image_size=image_size,
            augment=augment if training else None,
        )  # fmt: skip

    split_arrays = {"train": (x_train, y_train), "test": (x_test, y_test)}
    if x_val is not None and source == "train":
        split_arrays["validation"] = (x_val, y_val)
    return DataBundle(
        name=cfg.name,
        source=data.source,
        class_names=class_names,
        input_shape=(int(image_size[0]), int(image_size[1]), int(x_train.shape[-1])),
        train=make(x_train, y_train, True),
        validation=None if x_val is None else make(x_val, y_val, False),
        test=make(x_test, y_test, False),
        counts={split: len(y) for split, (_, y) in split_arrays.items()},
        class_counts={
            split: {
                class_names[k]: int(n)
                for k, n in enumerate(np.bincount(y, minlength=len(class_names)))
            }
            for split, (_, y) in split_arrays.items()
        },
        digest=digest_arrays(split_arrays),
        sample=x_train[:8],
        adapt_data=x_train,
    )


def select_classes(
    wanted: list[str] | None, class_names: list[str], x_train, y_train, x_test, y_test
):
    """Keep only the ``classes:`` subset, relabelled 0..k-1 in the given order."""
    if not wanted:
        return x_train, y_train, x_test, y_test, list(class_names)
    unknown = [name for name in wanted if name not in class_names]
    if unknown:
        raise ValueError(f"dataset.classes: {unknown} not found; available classes: {class_names}")
    remap = np.full(len(class_names), -1)
    for new, name in enumerate(wanted):
        remap[class_names.index(name)] = new
    keep_train, keep_test = remap[y_train] >= 0, remap[y_test] >= 0
    return (
        x_train[keep_train], remap[y_train[keep_train]],
        x_test[keep_test], remap[y_test[keep_test]], list(wanted),
    )  # fmt: skip


def digest_arrays(split_arrays: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """A content digest of every split (images and labels), to compare runs' data."""
    hasher = hashlib.sha256()
    for split in sorted(split_arrays):
        for array in split_arrays[split]:
            hasher.update(split.encode())
            hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()[:16]
