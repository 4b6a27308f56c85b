"""Typed schemas of the ``model`` config group, one per builder.

Every builder is ``build(inputs, num_classes, name, **params) -> logits``: the input shape and
the class count always come from the dataset, never from here."""

from __future__ import annotations

from dataclasses import dataclass, field

from imgexp.config_checks import FINITE, FRACTION, NON_NEGATIVE, count, each, one_of, ranged

UNITS = each(count(1))  # layer widths, filter counts, kernel sizes


@dataclass
class MLPConfig:
    """Flatten -> Dense blocks -> class logits (by default the 300-100 network of "Building an
    image classifier using Keras and TensorFlow",
    https://medium.com/analytics-vidhya/building-image-classifier-using-keras-and-tensorflow-fef21c54732a)."""

    _target_: str = "imgexp.model.mlp.build"
    name: str = "mlp"
    hidden_units: list[int] = ranged([300, 100], UNITS)
    activation: str = "relu"
    dropout: float = ranged(0.0, FRACTION)


@dataclass
class CNNConfig:
    """Conv-(BN)-ReLU-MaxPool blocks -> Dense -> class logits (also the models of "Beginner's
    guide to CNNs with TensorFlow's Keras API",
    https://towardsdatascience.com/beginners-guide-to-building-convolutional-neural-networks-using-tensorflow-s-keras-api-in-python-6e8035e28238,
    and "A single function to streamline image classification with Keras",
    https://towardsdatascience.com/a-single-function-to-streamline-image-classification-with-keras-bd04f5cfe6df)."""

    _target_: str = "imgexp.model.cnn.build"
    name: str = "cnn"
    filters: list[int] = ranged([32, 64], UNITS)
    kernel_size: int = ranged(3, count(1))
    padding: str = ranged("same", one_of("same", "valid"))
    batch_norm: bool = False
    dense_units: int = ranged(128, count(0))  # 0: no hidden dense layer
    dropout: float = ranged(0.0, FRACTION)


@dataclass
class FunctionalCNNConfig:
    """The CNN of "How to build a CNN from scratch using tf.keras (functional API)"
    (https://towardsdatascience.com/how-to-build-a-convolutional-neural-network-from-scratch-using-tf-keras-for-image-classification-ee4482de8453):
    Conv(relu)-BN stacks with pooling after chosen convs, then Dense(relu)-BN."""

    _target_: str = "imgexp.model.functional_cnn.build"
    name: str = "functional_cnn"
    conv_filters: list[int] = ranged([32, 64, 128, 256, 512, 512], UNITS)
    conv_kernels: list[int] = ranged([3, 3, 5, 5, 3, 5], UNITS)
    # Indices of the convolutions followed by MaxPooling2D(2).
    pool_after: list[int] = ranged([1, 5], each(count(0)))
    dense_units: list[int] = ranged([1024, 512, 128], UNITS)
    # Which dense layers get a BatchNormalization after them (the article: all but the last).
    dense_batch_norm: list[bool] = field(default_factory=lambda: [True, True, False])
    batch_norm: bool = True
    dropout: float = ranged(0.0, FRACTION)


@dataclass
class SubclassCNNConfig:
    """The subclassed keras.Model of "Using TensorFlow 2.0 to build a CNN for image
    classification"
    (https://medium.com/analytics-vidhya/using-tensorflow-2-0-to-build-a-cnn-for-image-classification-4e50848ce1c0):
    conv-pool-conv-pool-conv(stride 2)-BN-Dropout-Dense."""

    _target_: str = "imgexp.model.subclass_cnn.build"
    name: str = "subclass_cnn"
    filters: list[int] = ranged([32, 32, 32], UNITS)
    kernel_sizes: list[int] = ranged([3, 3, 5], UNITS)
    dense_units: int = ranged(128, count(1))
    dropout: float = ranged(0.4, FRACTION)


@dataclass
class ResNetConfig:
    """A small ResNet for 32x32 inputs (He et al. 2016, CIFAR variant): basic blocks."""

    _target_: str = "imgexp.model.resnet.build"
    name: str = "resnet"
    stem_filters: int = ranged(16, count(1))
    # One stage per entry; every stage after the first halves the resolution.
    stage_filters: list[int] = ranged([16, 32, 64], UNITS)
    blocks_per_stage: int = ranged(3, count(1))  # 3 -> ResNet-20, 9 -> ResNet-56
    l2: float = ranged(0.0, NON_NEGATIVE)
    dropout: float = ranged(0.0, FRACTION)


@dataclass
class TransferConfig:
    """A ``keras.applications`` backbone (pooled features) with a new classification head."""

    _target_: str = "imgexp.model.transfer.build"
    name: str = "transfer"
    backbone: str = "MobileNetV2"  # any keras.applications class name
    # null = random init; imagenet = pretrained (needs the weights in ~/.keras/models or a network)
    weights: str | None = None
    # Freeze the backbone at build time; trainer.unfreeze decides if/when it is thawed.
    freeze: bool = False
    # Pixel scaling the backbone expects, applied after dataset.preprocessing (x*scale+offset):
    # MobileNetV2 wants [-1, 1] (scale 2, offset -1 after dataset.preprocessing=rescale);
    # EfficientNet rescales internally (scale 1, offset 0 on raw pixels).
    input_scale: float = ranged(1.0, FINITE)
    input_offset: float = ranged(0.0, FINITE)
    dropout: float = ranged(0.2, FRACTION)
    dense_units: int = ranged(0, count(0))  # 0: no hidden layer


SCHEMAS = {
    "base_mlp": MLPConfig,
    "base_cnn": CNNConfig,
    "base_functional_cnn": FunctionalCNNConfig,
    "base_subclass_cnn": SubclassCNNConfig,
    "base_resnet": ResNetConfig,
    "base_transfer": TransferConfig,
}
