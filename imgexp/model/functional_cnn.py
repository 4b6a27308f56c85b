"""The functional-API CNN of "How to build a CNN from scratch using tf.keras (functional API)"
(https://towardsdatascience.com/how-to-build-a-convolutional-neural-network-from-scratch-using-tf-keras-for-image-classification-ee4482de8453):
Conv(relu)-BN stacks with two poolings, Dense(relu)-BN head."""

from __future__ import annotations

from collections.abc import Sequence

import keras


def build(
    inputs: keras.KerasTensor,
    num_classes: int,
    name: str = "functional_cnn",
    conv_filters: Sequence[int] = (32, 64, 128, 256, 512, 512),
    conv_kernels: Sequence[int] = (3, 3, 5, 5, 3, 5),
    pool_after: Sequence[int] = (1, 5),
    dense_units: Sequence[int] = (1024, 512, 128),
    dense_batch_norm: Sequence[bool] = (True, True, False),
    batch_norm: bool = True,
    dropout: float = 0.0,
) -> keras.KerasTensor:
    """Class logits; the article applies ReLU inside the conv and BatchNorm after it."""
    if len(conv_kernels) != len(conv_filters):
        raise ValueError(
            f"model.conv_kernels has {len(conv_kernels)} entries, model.conv_filters "
            f"{len(conv_filters)}: give one kernel size per convolution"
        )
    if len(dense_batch_norm) != len(dense_units):
        raise ValueError(
            f"model.dense_batch_norm has {len(dense_batch_norm)} entries, model.dense_units "
            f"{len(dense_units)}: give one flag per dense layer"
        )
    features = inputs
    for index, (width, kernel) in enumerate(zip(conv_filters, conv_kernels, strict=True)):
        features = keras.layers.Conv2D(
            width, kernel, padding="same", activation="relu", name=f"conv_{index}"
        )(features)
        if batch_norm:
            features = keras.layers.BatchNormalization(name=f"conv_bn_{index}")(features)
        if index in pool_after:
            features = keras.layers.MaxPooling2D(2, name=f"pool_{index}")(features)
    features = keras.layers.Flatten(name="flatten")(features)
    for index, (units, norm) in enumerate(zip(dense_units, dense_batch_norm, strict=True)):
        features = keras.layers.Dense(units, activation="relu", name=f"dense_{index}")(features)
        if norm and batch_norm:
            features = keras.layers.BatchNormalization(name=f"dense_bn_{index}")(features)
        if dropout:
            features = keras.layers.Dropout(dropout, name=f"dropout_{index}")(features)
    return keras.layers.Dense(num_classes, name="logits")(features)
