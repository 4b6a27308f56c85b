"""A small configurable CNN: Conv-[BN]-ReLU-MaxPool blocks, then Dense."""

from __future__ import annotations

import keras


def build(
    inputs: keras.KerasTensor,
    num_classes: int,
    name: str = "cnn",
    filters: list[int] = (32, 64),
    kernel_size: int = 3,
    padding: str = "same",
    batch_norm: bool = False,
    dense_units: int = 128,
    dropout: float = 0.0,
) -> keras.KerasTensor:
    """Class logits of a VGG-style stack; pooling stops once the feature map is 1 pixel."""
    features = inputs
    for index, width in enumerate(filters):
        features = keras.layers.Conv2D(
            width, kernel_size, padding=padding, use_bias=not batch_norm, name=f"conv_{index}"
        )(features)
        if batch_norm:
            features = keras.layers.BatchNormalization(name=f"bn_{index}")(features)
        features = keras.layers.Activation("relu", name=f"relu_{index}")(features)
        if min(features.shape[1:3]) >= 2:
            features = keras.layers.MaxPooling2D(2, name=f"pool_{index}")(features)
    features = keras.layers.Flatten(name="flatten")(features)
    if dense_units:
        features = keras.layers.Dense(dense_units, activation="relu", name="dense")(features)
    if dropout:
        features = keras.layers.Dropout(dropout, name="dropout")(features)
    return keras.layers.Dense(num_classes, name="logits")(features)
