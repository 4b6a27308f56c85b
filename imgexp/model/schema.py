"""Typed schemas of the ``model`` config group, one per builder.

Every builder is ``build(inputs, num_classes, name, **params) -> logits``: the input shape and
the class count always come from the dataset, never from here."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING


@dataclass
class MLPConfig:
    """Flatten -> Dense blocks -> class logits (seed 001's 300-100 network by default)."""

    _target_: str = "imgexp.model.mlp.build"
    name: str = "mlp"
    hidden_units: list[int] = field(default_factory=lambda: [300, 100])
    activation: str = "relu"
    dropout: float = 0.0


@dataclass
class CNNConfig:
    """Conv-(BN)-ReLU-MaxPool blocks -> Dense -> class logits (also seeds 002 and 003)."""

    _target_: str = "imgexp.model.cnn.build"
    name: str = "cnn"
    filters: list[int] = field(default_factory=lambda: [32, 64])
    kernel_size: int = 3
    padding: str = "same"
    batch_norm: bool = False
    dense_units: int = 128
    dropout: float = 0.0


@dataclass
class FunctionalCNNConfig:
    """Seed 000: Conv(relu)-BN stacks with pooling after chosen convs, then Dense(relu)-BN."""

    _target_: str = "imgexp.model.functional_cnn.build"
    name: str = "functional_cnn"
    conv_filters: list[int] = field(default_factory=lambda: [32, 64, 128, 256, 512, 512])
    conv_kernels: list[int] = field(default_factory=lambda: [3, 3, 5, 5, 3, 5])
    # Indices of the convolutions followed by MaxPooling2D(2).
    pool_after: list[int] = field(default_factory=lambda: [1, 5])
    dense_units: list[int] = field(default_factory=lambda: [1024, 512, 128])
    # Which dense layers get a BatchNormalization after them (seed 000: all but the last).
    dense_batch_norm: list[bool] = field(default_factory=lambda: [True, True, False])
    batch_norm: bool = True
    dropout: float = 0.0


@dataclass
class SubclassCNNConfig:
    """Seed 004's subclassed keras.Model: conv-pool-conv-pool-conv(stride 2)-BN-Dropout-Dense."""

    _target_: str = "imgexp.model.subclass_cnn.build"
    name: str = "subclass_cnn"
    filters: list[int] = field(default_factory=lambda: [32, 32, 32])
    kernel_sizes: list[int] = field(default_factory=lambda: [3, 3, 5])
    dense_units: int = 128
    dropout: float = 0.4


@dataclass
class ResNetConfig:
    """A small ResNet for 32x32 inputs (He et al. 2016, CIFAR variant): basic blocks."""

    _target_: str = "imgexp.model.resnet.build"
    name: str = "resnet"
    stem_filters: int = 16
    # One stage per entry; every stage after the first halves the resolution.
    stage_filters: list[int] = field(default_factory=lambda: [16, 32, 64])
    blocks_per_stage: int = 3  # 3 -> ResNet-20, 9 -> ResNet-56
    l2: float = 0.0
    dropout: float = 0.0


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
    input_scale: float = 1.0
    input_offset: float = 0.0
    dropout: float = 0.2
    dense_units: int = 0


@dataclass
class ModelConfig:
    """Minimal contract every model option satisfies (used only for documentation)."""

    _target_: str = MISSING
    name: str = MISSING


SCHEMAS = {
    "base_mlp": MLPConfig,
    "base_cnn": CNNConfig,
    "base_functional_cnn": FunctionalCNNConfig,
    "base_subclass_cnn": SubclassCNNConfig,
    "base_resnet": ResNetConfig,
    "base_transfer": TransferConfig,
}
