"""Augmentation as Keras preprocessing layers, applied to the training split only: either
mapped over tf.data batches (CPU, asynchronous) or placed at the front of the model; plus
batch-level mixing (MixUp/CutMix), which changes the labels and so always runs in tf.data.

Both placements see the raw 0..255 pixels (the model's own preprocessing comes after), so a
layer's ``value_range`` is [0, 255] in either, and both make the same transform."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imgexp.dataset.bundle import DataBundle
from imgexp.errors import ConfigError

# Keras layers whose colour ops need 3 channels (tf.image's hue/saturation); on grayscale
# images they fail inside the first training batch, so they are refused before it.
RGB_ONLY = {
    "RandomHue": (),
    "RandomSaturation": (),
    "RandomColorJitter": ("hue_factor", "saturation_factor"),
}


def augmentation_layers(cfg: DictConfig) -> list[keras.Layer]:
    """Instantiate ``augmentation.layers`` (each a `_target_` node), seeded when a seed is set."""
    layers = []
    for index, node in enumerate(cfg.layers):
        extra = {"seed": int(cfg.seed) + index} if cfg.get("seed") is not None else {}
        # Plain lists, not OmegaConf's: Keras checks isinstance(list) (RandomErasing's
        # fill_value) and saves a layer's config into the .keras file.
        layers.append(instantiate(node, _convert_="all", **extra))
    return layers


def check_channels(cfg: DictConfig, channels: int) -> None:
    """Raise `ConfigError` for a layer that cannot take ``channels``-channel images: an
    RGB-only colour op, or a per-channel ``fill_value`` list of another length."""
    problems = []
    for index, node in enumerate(cfg.layers):
        name = str(node.get("_target_", "")).rsplit(".", 1)[-1]
        where = f"augmentation.layers[{index}] ({node.get('_target_')})"
        fill = node.get("fill_value")
        if OmegaConf.is_list(fill) and len(fill) != channels:
            problems.append(
                f"{where}: fill_value={list(fill)} has {len(fill)} values but the images have "
                f"{channels} channel(s); give one number"
            )
        needs_rgb = name in RGB_ONLY and (
            not RGB_ONLY[name] or any(node.get(key) for key in RGB_ONLY[name])
        )
        if needs_rgb and channels != 3:
            problems.append(
                f"{where} needs 3-channel (RGB) images, the dataset has {channels} channel(s); "
                "use dataset.color_mode=rgb or another augmentation"
            )
    if problems:
        raise ConfigError("\n".join(problems))


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
    """Layers for ``placement: model``, in front of the model's preprocessing (active only in
    training, identity at inference; saved with the model)."""
    if cfg.placement != "model":
        return []
    return augmentation_layers(cfg)


def augment_training(cfg: DictConfig, data: DataBundle, deterministic: bool = False) -> DataBundle:
    """The bundle with its training batches augmented (``placement: pipeline`` layers, then the
    ``mix`` layer); validation and test are left as they are.

    Keras' random layers draw from one state variable, so parallel map calls would consume it
    in a racy order: with ``augmentation.seed`` set (or ``deterministic``) the map runs in
    order, and the same seed gives the same transforms."""
    check_channels(cfg, int(data.input_shape[-1]))
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
