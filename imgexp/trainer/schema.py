"""Typed schema of the ``trainer`` config group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainerConfig:
    """How the model is fitted: loop, batch, epochs, seed and speed switches."""

    _target_: str = "imgexp.trainer.fit.train"
    name: str = "fit"
    epochs: int = 10
    batch_size: int = 32
    seed: int = 42
    # Several steps per compiled call: large speed-up for small models on CPU, same maths.
    steps_per_execution: int = 64
    jit_compile: Any = "auto"  # true | false | "auto" (Keras decides)
    deterministic: bool = False
    verbose: int = 2
    # Keras callbacks as `_target_` nodes keyed by a name, so one can be removed by `~key`.
    callbacks: dict[str, Any] = field(default_factory=dict)


SCHEMAS = {"base_trainer": TrainerConfig}
