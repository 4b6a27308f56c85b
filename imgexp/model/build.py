"""Assembles the model: raw uint8 image -> [augmentation, on 0..255 pixels] -> preprocessing
-> body -> softmax."""

from __future__ import annotations

import keras
from hydra.utils import instantiate
from omegaconf import DictConfig


def build_model(
    cfg: DictConfig,
    input_shape: tuple[int, int, int],
    num_classes: int,
    input_layers: list[keras.Layer],
) -> keras.Model:
    """The builder named by ``model._target_`` maps features to class logits; the softmax is
    added here in float32 so that mixed precision never degrades the probabilities."""
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    features = inputs
    for layer in input_layers:
        features = layer(features)
    if features.dtype == "uint8":  # preprocessing=none: raw 0..255 values, as floats
        features = keras.layers.Rescaling(1.0, name="to_float")(features)
    logits = instantiate(cfg, features, num_classes)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name=str(cfg.name))


def summary_text(model: keras.Model) -> str:
    """The model summary (nested models expanded) as text."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), expand_nested=True)
    return "\n".join(lines)
