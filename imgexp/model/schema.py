"""Typed schemas of the ``model`` config group, one per architecture."""

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
    """Conv-(BN)-ReLU-MaxPool blocks -> Dense -> class logits."""

    _target_: str = "imgexp.model.cnn.build"
    name: str = "cnn"
    filters: list[int] = field(default_factory=lambda: [32, 64])
    kernel_size: int = 3
    padding: str = "same"
    batch_norm: bool = False
    dense_units: int = 128
    dropout: float = 0.0


@dataclass
class ModelConfig:
    """Minimal contract every model option satisfies (used only for documentation)."""

    _target_: str = MISSING
    name: str = MISSING


SCHEMAS = {"base_mlp": MLPConfig, "base_cnn": CNNConfig}
