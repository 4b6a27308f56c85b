"""Augmentation as Keras preprocessing layers, applied to the training split only: either
mapped over tf.data batches (CPU, asynchronous) or placed at the front of the model."""

from __future__ import annotations

from collections.abc import Callable

import keras
from hydra.utils import instantiate
from omegaconf import DictConfig


def augmentation_layers(cfg: DictConfig) -> list[keras.Layer]:
    """Instantiate ``augmentation.layers`` (each a `_target_` node), seeded when a seed is set."""
    layers = []
    for index, node in enumerate(cfg.layers):
        extra = {"seed": int(cfg.seed) + index} if cfg.get("seed") is not None else {}
        layers.append(instantiate(node, **extra))
    return layers


def pipeline_augment(cfg: DictConfig) -> Callable | None:
    """A tf.data map function for ``placement: pipeline`` (None when there is nothing to do).

    The layers see float images and hand back uint8, so cached and augmented batches feed the
    model identically."""
    if cfg.placement != "pipeline" or not cfg.layers:
        return None
    stack = keras.Sequential(augmentation_layers(cfg), name="augmentation")

    def augment(images, labels):
        augmented = stack(keras.ops.cast(images, "float32"), training=True)
        return keras.ops.cast(keras.ops.clip(keras.ops.round(augmented), 0, 255), "uint8"), labels

    return augment


def model_augmentation(cfg: DictConfig) -> list[keras.Layer]:
    """Layers for ``placement: model`` (active only in training, identity at inference)."""
    if cfg.placement != "model":
        return []
    return augmentation_layers(cfg)
