"""Typed schemas of the ``optimizer`` config group; `_target_` is the Keras optimizer class.

``weight_decay`` is Keras' decoupled weight decay (every optimizer takes it); the learning rate
schedule is the separate ``schedule`` group."""

from __future__ import annotations

from dataclasses import dataclass

from imgexp.config_checks import POSITIVE, number, optional, ranged

NON_NEGATIVE_OR_NULL = optional(number(0))
POSITIVE_OR_NULL = optional(POSITIVE)
UNIT = number(0, 1)  # momentum, rho: [0, 1]
DECAY = number(0, 1, high_open=True)  # Adam's betas: [0, 1)


@dataclass
class OptimizerConfig:
    """Options every Keras optimizer takes."""

    _target_: str = "keras.optimizers.Adam"
    learning_rate: float = ranged(0.001, POSITIVE)
    weight_decay: float | None = ranged(None, NON_NEGATIVE_OR_NULL)
    clipnorm: float | None = ranged(None, POSITIVE_OR_NULL)


@dataclass
class AdamConfig(OptimizerConfig):
    """keras.optimizers.Adam."""

    _target_: str = "keras.optimizers.Adam"
    beta_1: float = ranged(0.9, DECAY)
    beta_2: float = ranged(0.999, DECAY)
    epsilon: float = ranged(1e-7, POSITIVE)


@dataclass
class SGDConfig(OptimizerConfig):
    """keras.optimizers.SGD (Keras default learning rate 0.01)."""

    _target_: str = "keras.optimizers.SGD"
    learning_rate: float = ranged(0.01, POSITIVE)
    momentum: float = ranged(0.0, UNIT)
    nesterov: bool = False


@dataclass
class RMSpropConfig(OptimizerConfig):
    """keras.optimizers.RMSprop."""

    _target_: str = "keras.optimizers.RMSprop"
    rho: float = ranged(0.9, UNIT)
    momentum: float = ranged(0.0, UNIT)
    epsilon: float = ranged(1e-7, POSITIVE)


@dataclass
class AdamWConfig(AdamConfig):
    """keras.optimizers.AdamW: Adam with decoupled weight decay (Keras default 0.004)."""

    _target_: str = "keras.optimizers.AdamW"
    weight_decay: float | None = ranged(0.004, NON_NEGATIVE_OR_NULL)


SCHEMAS = {
    "base_adam": AdamConfig,
    "base_sgd": SGDConfig,
    "base_rmsprop": RMSpropConfig,
    "base_adamw": AdamWConfig,
}
