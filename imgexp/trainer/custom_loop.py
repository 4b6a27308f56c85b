"""The ``custom_loop`` trainer (the loop of "Using TensorFlow 2.0 to build a CNN for image
classification",
https://medium.com/analytics-vidhya/using-tensorflow-2-0-to-build-a-cnn-for-image-classification-4e50848ce1c0):
a ``tf.GradientTape`` train step and a test step,
each compiled with ``tf.function``, Keras metrics reset every epoch. It drives the same Keras
callbacks as ``fit`` with the same log names, so early stopping, TerminateOnNaN, checkpoints,
ReduceLROnPlateau and the MLflow logger behave alike, and leaves the model compiled. Like
``fit`` it starts at the epoch ``BackupAndRestore`` restored, so ``trainer.resume`` continues a
killed custom-loop run too.

Each step runs through ``strategy.run`` on ``strategy.experimental_distribute_dataset`` batches
(TensorFlow's custom-loop recipe), so the same loop trains under every ``trainer.strategy``,
``multi_worker_mirrored`` included; under the default strategy both are pass-throughs."""

from __future__ import annotations

import keras
import tensorflow as tf
from omegaconf import DictConfig

from imgexp.dataset.bundle import DataBundle
from imgexp.trainer import finetune
from imgexp.trainer.callbacks import config_callbacks
from imgexp.trainer.compile import compile_model, epoch_batches
from imgexp.trainer.losses import Accuracy


class Steps:
    """The compiled train and test steps of one model/optimizer pair, with their metrics."""

    def __init__(self, model: keras.Model, jit_compile: bool) -> None:
        self.model = model
        self.strategy = model.distribute_strategy  # the strategy the model was built under
        self.replicas = self.strategy.num_replicas_in_sync
        if not model.optimizer.built:  # its slots are created here, not inside a replica
            model.optimizer.build(model.trainable_variables)
        self.train_metrics = [keras.metrics.Mean(name="loss"), Accuracy(name="accuracy")]
        self.test_metrics = [keras.metrics.Mean(name="loss"), Accuracy(name="accuracy")]
        self.train_step = self._distributed(tf.function(self._train_step, jit_compile=jit_compile))
        self.test_step = self._distributed(tf.function(self._test_step, jit_compile=jit_compile))

    def _distributed(self, step):
        """``step`` run on every replica's share of a batch, in one compiled call."""
        return tf.function(lambda images, labels: self.strategy.run(step, args=(images, labels)))

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
        optimizer = self.model.optimizer  # loss-scaled under mixed_float16
        with tf.GradientTape() as tape:
            probabilities = self.model(images, training=True)
            loss = self._loss(labels, probabilities, training=True)
            scaled = optimizer.scale_loss(loss)
        variables = self.model.trainable_variables
        optimizer.apply(tape.gradient(scaled, variables), variables)
        self._track(self.train_metrics, loss, labels, probabilities)

    def _test_step(self, images, labels):
        probabilities = self.model(images, training=False)
        loss = self._loss(labels, probabilities, training=False)
        self._track(self.test_metrics, loss, labels, probabilities)

    @staticmethod
    def results(metrics: list[keras.metrics.Metric], prefix: str = "") -> dict[str, float]:
        """Current values as floats (one device sync)."""
        return {f"{prefix}{m.name}": float(m.result()) for m in metrics}


def run_epoch(steps: Steps, data: DataBundle, cfg: DictConfig, callbacks, epoch: int) -> dict:
    """One pass over the training batches and the validation split; returns the epoch logs."""
    for metric in steps.train_metrics + steps.test_metrics:
        metric.reset_state()
    callbacks.on_epoch_begin(epoch)
    every = max(1, int(cfg.steps_per_execution))
    step = -1
    batches = steps.strategy.experimental_distribute_dataset(epoch_batches(data.train, cfg))
    for step, (images, labels) in enumerate(batches):
        callbacks.on_train_batch_begin(step)
        steps.train_step(images, labels)
        if (step + 1) % every == 0:  # callbacks see a batch end once per "execution"
            callbacks.on_train_batch_end(step, steps.results(steps.train_metrics))
            if steps.model.stop_training:
                break
    if step >= 0 and (step + 1) % every:
        callbacks.on_train_batch_end(step, steps.results(steps.train_metrics))
    logs = steps.results(steps.train_metrics)
    if data.validation is not None and not steps.model.stop_training:
        validation = steps.strategy.experimental_distribute_dataset(data.validation)
        for images, labels in validation:
            steps.test_step(images, labels)
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
    steps = Steps(model, jit_compile=cfg.jit_compile is True)
    callback_list = keras.callbacks.CallbackList(
        config_callbacks(cfg) + callbacks,
        add_progbar=int(cfg.verbose) > 0,
        model=model,
        verbose=int(cfg.verbose),
        epochs=epochs,
        steps=cfg.get("steps_per_epoch"),
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
            steps = Steps(model, jit_compile=cfg.jit_compile is True)  # retrace: new variables
        logs = run_epoch(steps, data, cfg, callback_list, epoch)
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return history
