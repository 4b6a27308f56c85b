"""Typed schema of the ``trainer`` config group."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from imgexp.config_checks import FRACTION, POSITIVE, SEED, count, one_of, optional, ranged


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

    epoch: int | None = ranged(None, optional(count(1)))
    layer: str = "backbone"
    from_layer: int = ranged(0, count(0))
    lr_scale: float = ranged(0.1, POSITIVE)


@dataclass
class TrainerConfig:
    """How the model is fitted: loop, batch, epochs, seed and speed switches."""

    _target_: str = "imgexp.trainer.fit.train"
    name: str = "fit"
    epochs: int = ranged(10, count(1))
    batch_size: int = ranged(32, count(1))
    seed: int = ranged(42, SEED)
    # n > 1: one job trains n members with seeds seed..seed+n-1 and logs mean/std/n on its own
    # run (imgexp/groups/in_job.py); combines with dataset.cv.folds (folds x repeats members).
    repeats: int = ranged(1, count(1))
    # Cap on batches per epoch (null = the whole training split): quick smoke runs.
    steps_per_epoch: int | None = ranged(None, optional(count(1)))
    # Several steps per compiled call (fit, and custom_loop's tf.range loop): a large speed-up
    # for small models on CPU, the same steps in the same order; callbacks and the Ctrl-C/
    # SIGTERM check run between calls. Never more than an epoch's batches.
    steps_per_execution: int = ranged(64, count(1))
    # true | false | "auto" (Keras decides; custom_loop: false)
    jit_compile: Any = ranged("auto", one_of(True, False, "auto"))
    deterministic: bool = False
    mixed_precision: MixedPrecision = MixedPrecision.none
    # Cross-entropy against (1 - s) * one_hot + s / classes; metric names stay loss/accuracy.
    label_smoothing: float = ranged(0.0, FRACTION)
    unfreeze: UnfreezeConfig = field(default_factory=UnfreezeConfig)
    strategy: Strategy = Strategy.default
    # Back up the training state every epoch; re-running the same command after a crash or
    # kill continues the same MLflow run from the last finished epoch (trainer/resume.py).
    resume: bool = True
    verbose: int = ranged(2, one_of(0, 1, 2))
    # Keras callbacks as `_target_` nodes keyed by a name; a node with `enabled: false` (or
    # null) is skipped, so `trainer.callbacks.early_stopping.enabled=true` switches one on.
    callbacks: dict[str, Any] = field(default_factory=dict)


SCHEMAS = {"base_trainer": TrainerConfig}
