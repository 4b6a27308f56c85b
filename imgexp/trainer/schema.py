"""Typed schema of the ``trainer`` config group."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class MixedPrecision(str, Enum):
    """Keras dtype policy; the softmax output always stays float32."""

    none = "none"  # float32 throughout
    mixed_float16 = "mixed_float16"  # GPUs of compute capability >= 7.0
    mixed_bfloat16 = "mixed_bfloat16"  # GPUs of compute capability >= 8.0, TPUs


class Strategy(str, Enum):
    """tf.distribute strategy (imgexp/trainer/distribute.py); the batch size stays global."""

    default = "default"  # one device
    mirrored = "mirrored"  # all local GPUs (the CPU when there is none)
    multi_worker_mirrored = "multi_worker_mirrored"  # hosts/processes from TF_CONFIG


@dataclass
class UnfreezeConfig:
    """Fine-tuning schedule for a frozen backbone (``model.freeze=true``): from ``epoch`` on,
    the layer ``layer`` becomes trainable from its sub-layer ``from_layer`` on, and training
    continues with the learning rate times ``lr_scale``. ``epoch: null`` never unfreezes."""

    epoch: int | None = None
    layer: str = "backbone"
    from_layer: int = 0
    lr_scale: float = 0.1


@dataclass
class TrainerConfig:
    """How the model is fitted: loop, batch, epochs, seed and speed switches."""

    _target_: str = "imgexp.trainer.fit.train"
    name: str = "fit"
    epochs: int = 10
    batch_size: int = 32
    seed: int = 42
    # n > 1: one job trains n members with seeds seed..seed+n-1 and logs mean/std/n on its own
    # run (imgexp/crossval.py); combines with dataset.cv.folds (folds x repeats members).
    repeats: int = 1
    # Cap on batches per epoch (null = the whole training split): quick smoke runs.
    steps_per_epoch: int | None = None
    # Several steps per compiled call: large speed-up for small models on CPU, same maths.
    steps_per_execution: int = 64
    jit_compile: Any = "auto"  # true | false | "auto" (Keras decides; custom_loop: false)
    deterministic: bool = False
    mixed_precision: MixedPrecision = MixedPrecision.none
    # Cross-entropy against (1 - s) * one_hot + s / classes; metric names stay loss/accuracy.
    label_smoothing: float = 0.0
    unfreeze: UnfreezeConfig = field(default_factory=UnfreezeConfig)
    strategy: Strategy = Strategy.default
    # Back up the training state every epoch; re-running the same command after a crash or
    # kill continues the same MLflow run from the last finished epoch (trainer/resume.py).
    resume: bool = True
    verbose: int = 2
    # Keras callbacks as `_target_` nodes keyed by a name; a node with `enabled: false` (or
    # null) is skipped, so `trainer.callbacks.early_stopping.enabled=true` switches one on.
    callbacks: dict[str, Any] = field(default_factory=dict)


SCHEMAS = {"base_trainer": TrainerConfig}
