"""The ``custom_loop`` trainer (the loop of "Using TensorFlow 2.0 to build a CNN for image
classification",
https://medium.com/analytics-vidhya/using-tensorflow-2-0-to-build-a-cnn-for-image-classification-4e50848ce1c0):
a ``tf.GradientTape`` train step and a test step,
each compiled with ``tf.function``, Keras metrics reset every epoch. It drives the same Keras
callbacks as ``fit`` with the same log names, so early stopping, TerminateOnNaN, checkpoints,
ReduceLROnPlateau and the MLflow logger behave alike, and leaves the model compiled. Like
``fit`` it starts at the epoch ``BackupAndRestore`` restored, so ``trainer.resume`` continues a
killed custom-loop run too.

Unlike the article's loop (one Python-level call per batch), ``trainer.steps_per_execution``
steps run inside one compiled call, a ``tf.range`` loop over the iterator, as ``fit`` does:
the same steps in the same order, without the per-batch Python and dispatch cost that
dominates a small model's step on a CPU. Each step runs through ``strategy.run`` on
``strategy.experimental_distribute_dataset`` batches (TensorFlow's custom-loop recipe), so the
same loop trains under every ``trainer.strategy``, ``multi_worker_mirrored`` included; under
the default strategy both are pass-throughs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import keras
import tensorflow as tf
from omegaconf import DictConfig

from imgexp.dataset.bundle import DataBundle
from imgexp.trainer import finetune
from imgexp.trainer.callbacks import config_callbacks
from imgexp.trainer.compile import (
    batches_per_epoch,
    compile_model,
    epoch_batches,
    steps_per_execution,
)
from imgexp.trainer.losses import Accuracy


class Steps:
    """The compiled train and test steps of one model/optimizer pair, with their metrics.

    ``per_call`` steps run inside one ``tf.function`` call (the custom-loop counterpart of
    ``fit``'s ``steps_per_execution``): Python, the callbacks and the signal checks then run
    once per call instead of once per batch."""

    def __init__(self, model: keras.Model, jit_compile: bool, per_call: int = 1) -> None:
        self.model = model
        self.strategy = model.distribute_strategy  # the strategy the model was built under
        self.replicas = self.strategy.num_replicas_in_sync
        self.per_call = max(1, int(per_call))
        if not model.optimizer.built:  # its slots are created here, not inside a replica
            model.optimizer.build(model.trainable_variables)
        self.train_metrics = [keras.metrics.Mean(name="loss"), Accuracy(name="accuracy")]
        self.test_metrics = [keras.metrics.Mean(name="loss"), Accuracy(name="accuracy")]
        self.train_steps = self._compiled(tf.function(self._train_step, jit_compile=jit_compile))
        self.test_steps = self._compiled(tf.function(self._test_step, jit_compile=jit_compile))

    def _compiled(self, step) -> tuple[Callable, Callable]:
        """``step`` through ``strategy.run`` (every replica's share of a batch), compiled twice:
        on the next ``count`` batches of an iterator in one call (TensorFlow's recipe for
        several steps per call: a ``tf.range`` loop; ``count`` is a tensor, so one trace serves
        every count), and on one batch already fetched."""

        def several(iterator, count):
            for _ in tf.range(count):
                self.strategy.run(step, args=next(iterator))

        return tf.function(several), tf.function(lambda batch: self.strategy.run(step, args=batch))

    def run(self, steps, dataset: tf.data.Dataset, begin=None) -> Iterator[int]:
        """Run ``steps`` (``train_steps`` or ``test_steps``) over ``dataset``, ``per_call`` batches
        per call and the rest in the last, yielding the batches done after each call and calling
        ``begin(first batch)`` before it. When tf.data cannot tell how many batches there are (a
        dataset of the user's own, a filtered one), each batch is fetched here and run alone, so
        that no call runs past the end of the data (its random ops would still advance)."""
        several, one = steps
        iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
        total = int(dataset.cardinality())
        if total < 0:
            for done, batch in enumerate(iterator):
                if begin is not None:
                    begin(done)
                one(batch)
                yield done + 1
            return
        for done in range(0, total, self.per_call):
            if begin is not None:
                begin(done)
            count = min(self.per_call, total - done)
            several(iterator, tf.constant(count))
            yield done + count

    def _loss(self, labels, probabilities, training: bool):
        """This replica's share of the loss: Keras divides a loss by the replicas in sync (the
        optimizer sums their gradients), and the weight penalties are divided alike."""
        loss = self.model.loss(labels, probabilities)
        if training and self.model.losses:  # weight regularizers
            loss = loss + tf.add_n(self.model.losses) / self.replicas
        return loss

    def _track(self, metrics, loss, labels, probabilities) -> None:
        """Per-example means over the epoch, as ``fit`` reports them."""
        metrics[0].update_state(loss * self.replicas, sample_weight=tf.shape(labels)[0])
        metrics[1].update_state(labels, probabilities)

    def _train_step(self, images, labels):
        """The article's ``train_step``: forward pass under a ``tf.GradientTape``, gradients,
        ``optimizer.apply``, then the running loss and accuracy."""
        optimizer = self.model.optimizer  # loss-scaled under mixed_float16
        with tf.GradientTape() as tape:
            probabilities = self.model(images, training=True)
            loss = self._loss(labels, probabilities, training=True)
            scaled = optimizer.scale_loss(loss)
        variables = self.model.trainable_variables
        optimizer.apply(tape.gradient(scaled, variables), variables)
        self._track(self.train_metrics, loss, labels, probabilities)

    def _test_step(self, images, labels):
        """The article's ``test_step``: inference mode, loss and accuracy only."""
        probabilities = self.model(images, training=False)
        loss = self._loss(labels, probabilities, training=False)
        self._track(self.test_metrics, loss, labels, probabilities)

    @staticmethod
    def results(metrics: list[keras.metrics.Metric], prefix: str = "") -> dict[str, float]:
        """Current values as floats (one device sync)."""
        return {f"{prefix}{m.name}": float(m.result()) for m in metrics}


def run_epoch(steps: Steps, data: DataBundle, cfg: DictConfig, callbacks, epoch: int) -> dict:
    """One pass over the training batches and the validation split; returns the epoch logs.

    Callbacks (progress, TerminateOnNaN, the Ctrl-C/SIGTERM safe point) see a batch begin and
    end once per call, with Keras' step numbers: begin = the call's first batch, end = its
    last, as ``fit`` reports them under ``steps_per_execution``."""
    for metric in steps.train_metrics + steps.test_metrics:
        metric.reset_state()
    callbacks.on_epoch_begin(epoch)
    batches = epoch_batches(data.train, cfg)
    for done in steps.run(steps.train_steps, batches, begin=callbacks.on_train_batch_begin):
        callbacks.on_train_batch_end(done - 1, steps.results(steps.train_metrics))
        if steps.model.stop_training:
            break
    logs = steps.results(steps.train_metrics)
    if data.validation is not None and not steps.model.stop_training:
        for _ in steps.run(steps.test_steps, data.validation):
            continue
        logs |= steps.results(steps.test_metrics, prefix="val_")
    callbacks.on_epoch_end(epoch, logs)
    return logs


def train(
    model: keras.Model,
    optimizer: keras.Optimizer,
    data: DataBundle,
    cfg: DictConfig,
    callbacks: list[keras.callbacks.Callback],
) -> dict[str, list[float]]:
    """Train for ``cfg.epochs`` (fewer when a callback stops it) and return the history."""
    epochs = int(cfg.epochs)
    thaw = finetune.unfreeze_epoch(cfg, epochs)
    compile_model(model, optimizer, data, cfg)
    per_call = steps_per_execution(data, cfg)
    steps = Steps(model, cfg.jit_compile is True, per_call)
    callback_list = keras.callbacks.CallbackList(
        config_callbacks(cfg) + callbacks,
        add_progbar=int(cfg.verbose) > 0,
        model=model,
        verbose=int(cfg.verbose),
        epochs=epochs,
        steps=batches_per_epoch(data, cfg),  # the progress bar's target
        shuffle_draws_per_epoch=1,  # one iterator per epoch (resume advances the shuffle by it)
    )
    model.stop_training = False
    history: dict[str, list[float]] = {}
    logs: dict[str, float] = {}
    callback_list.on_train_begin()
    start = int(getattr(model, "_initial_epoch", None) or 0)  # BackupAndRestore's, on resume
    for epoch in range(start, epochs):
        if thaw is not None and epoch == max(thaw, start):
            finetune.unfreeze(model, cfg.unfreeze)
            scaled = finetune.scaled_optimizer(model.optimizer, float(cfg.unfreeze.lr_scale))
            compile_model(model, scaled, data, cfg)
            steps = Steps(model, cfg.jit_compile is True, per_call)  # retrace: new variables
        logs = run_epoch(steps, data, cfg, callback_list, epoch)
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return history
