"""A small ResNet for 32x32 images (He et al. 2016, section 4.2): 3x3 stem, stages of basic
residual blocks, global average pooling. The articles' "further exploration" suggests it."""

from __future__ import annotations

from collections.abc import Sequence

import keras


def conv_bn(features, filters: int, strides: int, name: str, l2: float, relu: bool = True):
    """Conv3x3 (no bias) -> BN [-> ReLU]."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    features = keras.layers.Conv2D(
        filters,
        3,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=regularizer,
        name=f"{name}_conv",
    )(features)
    features = keras.layers.BatchNormalization(name=f"{name}_bn")(features)
    return keras.layers.Activation("relu", name=f"{name}_relu")(features) if relu else features


def basic_block(features, filters: int, strides: int, name: str, l2: float):
    """Two 3x3 convs plus the identity, or a 1x1 projection when the shape changes."""
    shortcut = features
    if strides != 1 or features.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(
            filters,
            1,
            strides=strides,
            use_bias=False,
            name=f"{name}_proj",
            kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
        )(features)
        shortcut = keras.layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    residual = conv_bn(features, filters, strides, f"{name}_a", l2)
    residual = conv_bn(residual, filters, 1, f"{name}_b", l2, relu=False)
    merged = keras.layers.Add(name=f"{name}_add")([shortcut, residual])
    return keras.layers.Activation("relu", name=f"{name}_out")(merged)


def build(
    inputs: keras.KerasTensor,
    num_classes: int,
    name: str = "resnet",
    stem_filters: int = 16,
    stage_filters: Sequence[int] = (16, 32, 64),
    blocks_per_stage: int = 3,
    l2: float = 0.0,
    dropout: float = 0.0,
) -> keras.KerasTensor:
    """Class logits; depth = 6 * blocks_per_stage + 2 for three stages."""
    features = conv_bn(inputs, stem_filters, 1, "stem", l2)
    for stage, filters in enumerate(stage_filters):
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            features = basic_block(features, filters, strides, f"stage{stage}_block{block}", l2)
    features = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    if dropout:
        features = keras.layers.Dropout(dropout, name="dropout")(features)
    return keras.layers.Dense(num_classes, name="logits")(features)
