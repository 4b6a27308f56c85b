"""Typed schema of the ``augmentation`` config group."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Placement(str, Enum):
    """Where augmentation runs: in the tf.data pipeline (CPU) or as model layers (device)."""

    pipeline = "pipeline"
    model = "model"


@dataclass
class AugmentationConfig:
    """A list of Keras preprocessing layers (each a `_target_` node), training split only."""

    name: str = "none"
    placement: Placement = Placement.pipeline
    seed: int | None = None
    layers: list[Any] = field(default_factory=list)


SCHEMAS = {"base_augmentation": AugmentationConfig}
