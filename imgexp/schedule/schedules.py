"""Learning-rate schedules: each returns the optimizer's ``learning_rate`` (a float or a Keras
``LearningRateSchedule`` over optimizer steps) plus the callbacks it needs."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras


@dataclass
class Schedule:
    """What the optimizer gets as learning rate, and callbacks that adjust it during training."""

    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule
    callbacks: list[keras.callbacks.Callback] = field(default_factory=list)


def constant(learning_rate: float, steps_per_epoch: int, epochs: int, name: str = "") -> Schedule:
    """The configured rate, unchanged."""
    return Schedule(learning_rate)


def cosine(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    name: str = "",
    warmup_epochs: float = 0.0,
    warmup_start: float = 0.0,
    alpha: float = 0.0,
) -> Schedule:
    """keras' CosineDecay with its linear warmup, over all the run's steps."""
    warmup_steps = int(round(warmup_epochs * steps_per_epoch))
    total = epochs * steps_per_epoch
    if warmup_steps >= total:
        raise ValueError(
            f"schedule.warmup_epochs={warmup_epochs} covers all {epochs} epochs "
            f"(trainer.epochs): use fewer warmup epochs"
        )
    if warmup_steps:
        return Schedule(
            keras.optimizers.schedules.CosineDecay(
                learning_rate * warmup_start,
                total - warmup_steps,
                alpha=alpha,
                warmup_target=learning_rate,
                warmup_steps=warmup_steps,
            )
        )
    return Schedule(keras.optimizers.schedules.CosineDecay(learning_rate, total, alpha=alpha))


def step(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    name: str = "",
    milestones: list[int] = (30, 60, 90),
    gamma: float = 0.1,
) -> Schedule:
    """PiecewiseConstantDecay: ``lr * gamma**k`` after the k-th milestone epoch."""
    milestones = sorted(int(m) for m in milestones)
    if not milestones:
        return Schedule(learning_rate)
    boundaries = [m * steps_per_epoch for m in milestones]
    values = [learning_rate * gamma**k for k in range(len(milestones) + 1)]
    return Schedule(keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values))


def plateau(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    name: str = "",
    monitor: str = "val_loss",
    factor: float = 0.1,
    patience: int = 5,
    min_lr: float = 0.0,
    cooldown: int = 0,
) -> Schedule:
    """A float rate that keras.callbacks.ReduceLROnPlateau lowers between epochs."""
    callback = keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, factor=factor, patience=patience, min_lr=min_lr, cooldown=cooldown
    )
    return Schedule(learning_rate, [callback])
