"""The augmentation preview every augmented run logs (``plots/augmentation_preview.png``): a few
training images at fixed positions, each followed by several views made by the run's own
augmentation functions (`pipeline_augment`, the ``mix`` layer's `batch_mixer`, the
`model_augmentation` layers called with ``training=True``), with the (mixed) label on each tile.

Nothing of the run changes for it: the images are read by random access, never by iterating the
training split, and the random state the run's layers draw their seeds from is put back."""

from __future__ import annotations

import random

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from omegaconf import DictConfig

from imgexp.augmentation.layers import (
    batch_mixer,
    check_channels,
    model_augmentation,
    pipeline_augment,
    to_uint8,
)
from imgexp.dataset.bundle import DataBundle

IMAGES = 5  # rows: training images (one batch through the augmentation)
VIEWS = 4  # augmented views per image, after the original
SEED = 0  # which images below a cache (else: the first batch of the run's seeded shuffle)
MIN_WEIGHT = 0.005  # a mixed label's smaller parts are named down to this weight
TILE_INCHES = 1.6  # width of one tile
LABEL_BAND = 0.3  # the label's room above a tile, as a fraction of the image height


def augmentation_preview(cfg: DictConfig, data: DataBundle) -> Figure | None:
    """The preview of ``cfg`` (the ``augmentation`` group) on ``data``'s raw training split;
    None when the option augments nothing (``none``)."""
    if not cfg.layers and not cfg.get("mix"):
        return None
    check_channels(cfg, int(data.input_shape[-1]))
    images, labels = training_examples(data.train, int(data.counts["train"]), IMAGES)
    views = augmented_views(cfg, images, labels, data.num_classes, VIEWS)
    return preview_figure(images, labels, views, data.class_names, f"augmentation={cfg.name}")


def training_examples(train: tf.data.Dataset, count: int, size: int) -> tuple[np.ndarray, ...]:
    """``size`` raw (image, label) training examples, read by random access
    (`tf.data.experimental.at`) instead of iterating ``train``: a pass would advance its seeded
    shuffle (the run would then train on another order) and fill its shuffle buffer (up to
    ``dataset.shuffle_buffer`` decoded images). Random access through a cache would fill it up
    to the element read, so a cached pipeline is read below its cache, at `SEED`'s positions:
    ``size`` decodes."""
    source = uncached_source(train)
    if source is None:  # the first batch of the seeded shuffle
        images, labels = tf.data.experimental.at(train, 0)
        return images.numpy()[:size], labels.numpy()[:size]
    positions = np.random.default_rng(SEED).choice(count, min(size, count), replace=False)
    examples = [tf.data.experimental.at(source, int(position)) for position in positions]
    return np.stack([x.numpy() for x, _ in examples]), np.array([y.numpy() for _, y in examples])


def uncached_source(dataset: tf.data.Dataset) -> tf.data.Dataset | None:
    """The input of the lowest cache of a pipeline of single-input steps (per-example
    (image, label) elements in imgexp's folder pipelines), None when nothing is cached.
    ``_inputs`` is tf.data's own walk of a pipeline's steps."""
    cache_type = type(tf.data.Dataset.range(1).cache())  # tf.data's class, named nowhere public
    below = None
    inputs = dataset._inputs()
    while len(inputs) == 1:
        if isinstance(dataset, cache_type):
            below = inputs[0]
        dataset = inputs[0]
        inputs = dataset._inputs()
    return below


def augmented_views(
    cfg: DictConfig, images: np.ndarray, labels: np.ndarray, num_classes: int, views: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``views`` passes of ``images`` (one batch) through the training augmentation, in the
    run's order: pipeline layers, the mix layer, the in-model layers; (uint8 images, labels)
    each. Built by the run's own builders, with the same seeds; unseeded Keras layers draw
    theirs from Python's `random`, whose state is put back so the run's layers get the same."""
    state = random.getstate()
    try:
        augment, mix = pipeline_augment(cfg), batch_mixer(cfg, num_classes)
        in_model = model_augmentation(cfg)
    finally:
        random.setstate(state)
    passes = []
    for _ in range(views):
        batch, targets = tf.constant(images), tf.constant(labels)
        if augment is not None:
            batch, targets = augment(batch, targets)
        if mix is not None:
            batch, targets = mix(batch, targets)
        for layer in in_model:
            batch = layer(batch, training=True)
        passes.append((np.asarray(to_uint8(batch)), np.asarray(targets)))
    return passes


def tile_label(label: np.ndarray | int, class_names: list[str]) -> str:
    """A class name, or a mixed label by weight: ``"0.7 cat + 0.3 dog"``."""
    weights = np.atleast_1d(np.asarray(label, dtype=float))
    if weights.size == 1:
        return class_names[int(weights[0])]
    parts = [k for k in np.argsort(-weights, kind="stable") if weights[k] >= MIN_WEIGHT]
    if len(parts) == 1 or weights[parts[0]] > 1 - MIN_WEIGHT:
        return class_names[parts[0]]
    return " + ".join(f"{weights[k]:.2f}".rstrip("0").rstrip(".") + f" {class_names[k]}"
                      for k in parts)  # fmt: skip


def preview_figure(
    images: np.ndarray,
    labels: np.ndarray,
    views: list[tuple[np.ndarray, np.ndarray]],
    class_names: list[str],
    title: str,
) -> Figure:
    """One row per image: the original, then its augmented views, each under its label. Drawn
    as one mosaic in one axes: a grid of axes would take most of a second to render."""
    rows, columns = len(images), 1 + len(views)
    height, width = images.shape[1:3]
    band, gap = max(2, round(LABEL_BAND * height)), max(1, width // 10)
    cell_height, cell_width = band + height + gap, width + gap
    mosaic = np.full((rows * cell_height, columns * cell_width, 3), 255, np.uint8)
    figure_height = TILE_INCHES * rows * cell_height / cell_width + 0.35
    figure = Figure(figsize=(TILE_INCHES * columns, figure_height))
    axis = figure.add_axes((0.0, 0.0, 1.0, 1 - 0.35 / figure_height))
    axis.axis("off")
    for row in range(rows):
        tiles = [(images[row], labels[row])] + [(x[row], y[row]) for x, y in views]
        for column, (image, label) in enumerate(tiles):
            top, left = row * cell_height + band, column * cell_width
            mosaic[top : top + height, left : left + width] = image  # gray: to all 3 channels
            header = ("original: " if column == 0 else f"view {column}: ") if row == 0 else ""
            text = wrapped(header + tile_label(label, class_names))
            axis.text(left + width / 2, top - band / 2, text, ha="center", va="center", fontsize=7)
    axis.imshow(mosaic, interpolation="nearest", aspect="auto")
    figure.suptitle(f"{title}: each row one training image, then {len(views)} augmented views",
                    fontsize=9)  # fmt: skip
    return figure


def wrapped(text: str, columns: int = 24) -> str:
    """A tile's label on up to two lines (a mixed label breaks after its ``+``)."""
    if len(text) <= columns or " + " not in text:
        return text
    first, rest = text.split(" + ", 1)
    return f"{first} +\n{rest}"
