"""Augmentation as Keras preprocessing layers, applied to the training split only: either
mapped over tf.data batches (CPU, asynchronous) or placed at the front of the model; plus
batch-level mixing (MixUp/CutMix), which changes the labels and so always runs in tf.data."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf
from hydra.utils import instantiate
from omegaconf import DictConfig

from imgexp.dataset.bundle import DataBundle


def augmentation_layers(cfg: DictConfig) -> list[keras.Layer]:
    """Instantiate ``augmentation.layers`` (each a `_target_` node), seeded when a seed is set."""
    layers = []
    for index, node in enumerate(cfg.layers):
        extra = {"seed": int(cfg.seed) + index} if cfg.get("seed") is not None else {}
        layers.append(instantiate(node, **extra))
    return layers


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """Round augmented float pixels back to uint8, so augmented batches feed the model exactly
    like raw ones (the model's own preprocessing layers come after)."""
    return keras.ops.cast(keras.ops.clip(keras.ops.round(images), 0, 255), "uint8")


def pipeline_augment(cfg: DictConfig) -> Callable | None:
    """A tf.data map function for ``placement: pipeline`` (None when there is nothing to do)."""
    if cfg.placement != "pipeline" or not cfg.layers:
        return None
    stack = keras.Sequential(augmentation_layers(cfg), name="augmentation")

    def augment(images, labels):
        return to_uint8(stack(keras.ops.cast(images, "float32"), training=True)), labels

    return augment


def model_augmentation(cfg: DictConfig) -> list[keras.Layer]:
    """Layers for ``placement: model`` (active only in training, identity at inference)."""
    if cfg.placement != "model":
        return []
    return augmentation_layers(cfg)


def augment_training(cfg: DictConfig, data: DataBundle, deterministic: bool = False) -> DataBundle:
    """The bundle with its training batches augmented (``placement: pipeline`` layers, then the
    ``mix`` layer); validation and test are left as they are.

    Keras' random layers draw from one state variable, so parallel map calls would consume it
    in a racy order: with ``augmentation.seed`` set (or ``deterministic``) the map runs in
    order, and the same seed gives the same transforms."""
    ordered = deterministic or cfg.get("seed") is not None
    parallel = None if ordered else tf.data.AUTOTUNE
    train = data.train
    augment = pipeline_augment(cfg)
    if augment is not None:
        train = train.map(augment, num_parallel_calls=parallel)
    mix = batch_mixer(cfg, data.num_classes)
    if mix is not None:
        train = train.map(mix, num_parallel_calls=parallel)
    if train is data.train:
        return data
    return dataclasses.replace(data, train=train.prefetch(tf.data.AUTOTUNE))


def batch_mixer(cfg: DictConfig, num_classes: int) -> Callable | None:
    """A map function applying ``augmentation.mix`` to a batch with one-hot labels."""
    if not cfg.get("mix"):
        return None
    extra = {"seed": int(cfg.seed) + len(cfg.layers)} if cfg.get("seed") is not None else {}
    mixer = instantiate(cfg.mix, **extra)

    def mix(images, labels):
        one_hot = tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
        mixed = mixer({"images": tf.cast(images, tf.float32), "labels": one_hot}, training=True)
        return to_uint8(mixed["images"]), mixed["labels"]

    return mix
