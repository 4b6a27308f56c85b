"""Typed schemas of the ``optimizer`` config group; `_target_` is the Keras optimizer class.

``weight_decay`` is Keras' decoupled weight decay (every optimizer takes it); the learning rate
schedule is the separate ``schedule`` group."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class OptimizerConfig:
    """Options every Keras optimizer takes."""

    _target_: str = "keras.optimizers.Adam"
    learning_rate: float = 0.001
    weight_decay: float | None = None
    clipnorm: float | None = None


@dataclass
class AdamConfig(OptimizerConfig):
    """keras.optimizers.Adam."""

    _target_: str = "keras.optimizers.Adam"
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7


@dataclass
class SGDConfig(OptimizerConfig):
    """keras.optimizers.SGD (Keras default learning rate 0.01)."""

    _target_: str = "keras.optimizers.SGD"
    learning_rate: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False


@dataclass
class RMSpropConfig(OptimizerConfig):
    """keras.optimizers.RMSprop."""

    _target_: str = "keras.optimizers.RMSprop"
    rho: float = 0.9
    momentum: float = 0.0
    epsilon: float = 1e-7


@dataclass
class AdamWConfig(AdamConfig):
    """keras.optimizers.AdamW: Adam with decoupled weight decay (Keras default 0.004)."""

    _target_: str = "keras.optimizers.AdamW"
    weight_decay: float | None = 0.004


SCHEMAS = {
    "base_adam": AdamConfig,
    "base_sgd": SGDConfig,
    "base_rmsprop": RMSpropConfig,
    "base_adamw": AdamWConfig,
}
