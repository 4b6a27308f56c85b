"""The batched splits of a folder dataset, two ways: from the images the scan decoded
(``dataset.cache=memory``: `stored`), or decoded by the pipeline itself (`decoded`). Each gives
``(make, sample, adapt)``: a function building a split's batches, a few raw training images,
and the training images as batches for Normalization to adapt to."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
from omegaconf import DictConfig

from imgexp.dataset import decode, pipeline, splits
from imgexp.dataset.files import FileTable

SAMPLE_SIZE = 8


Splits = tuple[Callable[[str], tf.data.Dataset], np.ndarray, tf.data.Dataset]


def stored(
    pixels: np.ndarray, tables: dict[str, FileTable], batch_size: int, seed: int, cfg: DictConfig
) -> Splits:
    """(batches of a split, sample, adapt data) from the images the scan decoded: batches of
    shuffled rows, gathered from one tensor of them all (no second copy, nothing decoded)."""
    images = pipeline.image_tensor(pixels)

    def make(split: str) -> tf.data.Dataset:
        rows = pipeline.batch(
            pipeline.stored_rows(tables[split]),
            batch_size,
            training=split == "train",
            seed=seed,
            shuffle_buffer=min(int(cfg.shuffle_buffer), len(tables[split])),
        )
        return pipeline.gathered(rows, images)

    train = pipeline.stored_rows(tables["train"]).batch(256)
    adapt = pipeline.gathered(train, images).map(lambda image, _: image)
    return make, pixels[tables["train"].rows[:SAMPLE_SIZE]], adapt


def decoded(
    cfg: DictConfig, tables: dict[str, FileTable], digest: str, batch_size: int, seed: int
) -> Splits:
    """(batches of a split, sample, adapt data) decoding the files in the pipeline, cached as
    ``dataset.cache`` says (the test split alone is read once, uncached)."""
    source = splits.validation_source(cfg)
    image_size = (int(cfg.image_size[0]), int(cfg.image_size[1]))
    channels = decode.channels_of(cfg.color_mode)
    decoded = {}
    for split in tables:
        if split == "validation" and source == "test":
            continue  # the same dataset object as test, decoded and cached once
        size = f"{image_size[0]}x{image_size[1]}x{channels}"
        prefix = f"{cfg.name}-{digest}-{split}-{size}-decode{decode.VERSION}"
        reused = split != "test" or source == "test"  # test alone: read once
        decoded[split] = pipeline.cached(
            pipeline.decoded_files(tables[split], image_size, channels),
            cfg.cache if reused else None,
            prefix,
        )
    decoded.setdefault("validation", decoded.get("test") if "validation" in tables else None)

    def make(split: str) -> tf.data.Dataset:
        return pipeline.batch(
            decoded[split],
            batch_size,
            training=split == "train",
            seed=seed,
            shuffle_buffer=min(int(cfg.shuffle_buffer), len(tables[split])),
        )

    sample_files = tables["train"].take(np.arange(min(SAMPLE_SIZE, len(tables["train"]))))
    sample = pipeline.decoded_files(sample_files, image_size, channels).batch(SAMPLE_SIZE)
    adapt = decoded["train"].batch(256).map(lambda image, _: image)
    return make, next(iter(sample))[0].numpy(), adapt
