"""Typed schemas of the ``schedule`` config group. Durations are in epochs (converted to
optimizer steps once the dataset size is known); rates are fractions of
``optimizer.learning_rate``, so one schedule fits every optimizer."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    warmup_epochs: float = 0.0
    warmup_start: float = 0.0
    alpha: float = 0.0


@dataclass
class StepConfig:
    """Piecewise constant: lr, multiplied by ``gamma`` at each milestone epoch."""

    _target_: str = "imgexp.schedule.schedules.step"
    name: str = "step"
    milestones: list[int] = field(default_factory=lambda: [30, 60, 90])
    gamma: float = 0.1


@dataclass
class PlateauConfig:
    """keras.callbacks.ReduceLROnPlateau: lr * factor after ``patience`` epochs of no progress."""

    _target_: str = "imgexp.schedule.schedules.plateau"
    name: str = "plateau"
    monitor: str = "val_loss"
    factor: float = 0.1
    patience: int = 5
    min_lr: float = 0.0
    cooldown: int = 0


SCHEMAS = {
    "base_constant": ConstantConfig,
    "base_cosine": CosineConfig,
    "base_step": StepConfig,
    "base_plateau": PlateauConfig,
}
