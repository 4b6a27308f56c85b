"""Typed schema of the ``augmentation`` config group."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from imgexp.config_checks import SEED, optional, ranged


class Placement(str, Enum):
    """Where augmentation runs: in the tf.data pipeline (CPU) or as model layers (device)."""

    pipeline = "pipeline"
    model = "model"


@dataclass
class AugmentationConfig:
    """Keras preprocessing layers (each a `_target_` node) applied per image, plus an optional
    batch-level ``mix`` layer (keras.layers.MixUp / CutMix); training split only."""

    name: str = "none"
    placement: Placement = Placement.pipeline
    # Seeds layer i with seed + i (and the mix layer with seed + len(layers)); null = the run's
    # global seed (trainer.seed) decides.
    seed: int | None = ranged(None, optional(SEED))
    layers: list[Any] = field(default_factory=list)
    # Mixes images and one-hot labels within a batch; always in the tf.data pipeline, since it
    # changes the labels. The loss then trains on soft labels.
    mix: Any = None


SCHEMAS = {"base_augmentation": AugmentationConfig}
