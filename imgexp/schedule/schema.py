"""Typed schemas of the ``schedule`` config group. Durations are in epochs (converted to
optimizer steps once the dataset size is known); rates are fractions of
``optimizer.learning_rate``, so one schedule fits every optimizer."""

from __future__ import annotations

from dataclasses import dataclass

from imgexp.config_checks import NON_NEGATIVE, POSITIVE, count, each, number, ranged

UNIT = number(0, 1)  # a fraction of the learning rate


@dataclass
class ConstantConfig:
    """``optimizer.learning_rate`` throughout."""

    _target_: str = "imgexp.schedule.schedules.constant"
    name: str = "constant"


@dataclass
class CosineConfig:
    """Linear warmup from ``warmup_start * lr`` to lr, then cosine decay to ``alpha * lr``."""

    _target_: str = "imgexp.schedule.schedules.cosine"
    name: str = "cosine"
    warmup_epochs: float = ranged(0.0, NON_NEGATIVE)
    warmup_start: float = ranged(0.0, UNIT)
    alpha: float = ranged(0.0, UNIT)


@dataclass
class StepConfig:
    """Piecewise constant: lr, multiplied by ``gamma`` at each milestone epoch."""

    _target_: str = "imgexp.schedule.schedules.step"
    name: str = "step"
    milestones: list[int] = ranged([30, 60, 90], each(count(1)))
    gamma: float = ranged(0.1, POSITIVE)


@dataclass
class PlateauConfig:
    """keras.callbacks.ReduceLROnPlateau: lr * factor after ``patience`` epochs of no progress."""

    _target_: str = "imgexp.schedule.schedules.plateau"
    name: str = "plateau"
    monitor: str = "val_loss"
    factor: float = ranged(0.1, number(0, 1, low_open=True, high_open=True))
    patience: int = ranged(5, count(0))
    min_lr: float = ranged(0.0, NON_NEGATIVE)
    cooldown: int = ranged(0, count(0))


SCHEMAS = {
    "base_constant": ConstantConfig,
    "base_cosine": CosineConfig,
    "base_step": StepConfig,
    "base_plateau": PlateauConfig,
}
