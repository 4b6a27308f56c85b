"""The one ``model.compile`` both trainers use, so they train and report identically."""

from __future__ import annotations

import keras
import tensorflow as tf
from omegaconf import DictConfig

from imgexp.trainer.losses import Accuracy, CrossEntropy


def soft_labels(dataset: tf.data.Dataset) -> bool:
    """True when the training batches carry one-hot/soft labels (MixUp, CutMix)."""
    return dataset.element_spec[1].shape.rank == 2


def loss_and_metric(cfg: DictConfig, data) -> tuple[keras.losses.Loss, keras.metrics.Metric]:
    """Plain sparse cross-entropy when labels are integers and not smoothed; otherwise the
    label-format-agnostic pair (same names: ``loss``, ``accuracy``)."""
    smoothing = float(cfg.get("label_smoothing") or 0.0)
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"trainer.label_smoothing={smoothing}: use a value in [0, 1)")
    if smoothing or soft_labels(data.train):
        return CrossEntropy(label_smoothing=smoothing), Accuracy()
    return keras.losses.SparseCategoricalCrossentropy(), keras.metrics.SparseCategoricalAccuracy(
        name="accuracy"
    )


def epoch_batches(dataset: tf.data.Dataset, cfg: DictConfig) -> tf.data.Dataset:
    """The training batches of one epoch: all, or the first ``trainer.steps_per_epoch`` (each
    epoch re-iterates, so the data never runs out)."""
    steps = cfg.get("steps_per_epoch")
    return dataset.take(int(steps)) if steps else dataset


def batches_per_epoch(data, cfg: DictConfig) -> int | None:
    """Training batches in one epoch, when the split's size is known."""
    if cfg.get("steps_per_epoch"):
        return int(cfg.steps_per_epoch)
    count = (data.counts or {}).get("train")
    return -(-int(count) // int(cfg.batch_size)) if count else None


def steps_per_execution(data, cfg: DictConfig) -> int:
    """``trainer.steps_per_execution``, but never more than an epoch's batches: Keras counts
    the steps of an execution it could not fill, so an epoch of 2 batches showed "64/64"."""
    batches = batches_per_epoch(data, cfg)
    wanted = int(cfg.steps_per_execution)
    return max(1, min(wanted, batches)) if batches else wanted


def compile_model(model: keras.Model, optimizer: keras.Optimizer, data, cfg: DictConfig) -> None:
    """Cross-entropy on the softmax outputs, accuracy as the metric, speed switches from cfg.

    Under a mixed_float16 policy Keras wraps the optimizer in a LossScaleOptimizer itself."""
    loss, metric = loss_and_metric(cfg, data)
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=[metric],
        steps_per_execution=steps_per_execution(data, cfg),
        jit_compile=cfg.jit_compile,
    )
