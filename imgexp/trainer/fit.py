"""The ``fit`` trainer: compile and ``model.fit`` with callbacks from config (optionally in two
phases: frozen backbone, then fine-tuning, see ``trainer.unfreeze``).

Under ``trainer.strategy=multi_worker_mirrored`` it hands over to the ``custom_loop`` trainer
(same metric names, callbacks and history): in Keras 3.15 + TF 2.21 ``model.fit`` under
``MultiWorkerMirroredStrategy`` fails in its symbolic build and again when it reduces the step
logs over workers (keras-team/keras#20585, tensorflow/tensorflow#72388)."""

from __future__ import annotations

import logging
import warnings

import keras
from omegaconf import DictConfig

from imgexp.dataset.bundle import DataBundle
from imgexp.trainer import custom_loop, distribute, finetune
from imgexp.trainer.callbacks import config_callbacks
from imgexp.trainer.compile import compile_model, epoch_batches

log = logging.getLogger(__name__)


def train(
    model: keras.Model,
    optimizer: keras.Optimizer,
    data: DataBundle,
    cfg: DictConfig,
    callbacks: list[keras.callbacks.Callback],
) -> dict[str, list[float]]:
    """Fit for ``cfg.epochs`` and return the per-epoch history."""
    if distribute.multi_worker(cfg.get("strategy")):
        log.info("trainer.strategy=multi_worker_mirrored: training with the custom_loop trainer")
        return custom_loop.train(model, optimizer, data, cfg, callbacks)
    epochs = int(cfg.epochs)
    thaw = finetune.unfreeze_epoch(cfg, epochs)
    all_callbacks = config_callbacks(cfg) + callbacks
    history: dict[str, list[float]] = {}
    for start, stop in [(0, thaw), (thaw, epochs)] if thaw else [(0, epochs)]:
        if start:
            if model.stop_training:  # early stopping / NaN in the frozen phase
                break
            finetune.unfreeze(model, cfg.unfreeze)
            optimizer = finetune.scaled_optimizer(model.optimizer, float(cfg.unfreeze.lr_scale))
        compile_model(model, optimizer, data, cfg)
        with warnings.catch_warnings():
            # An epoch is one pass over the data; when its length is unknown to tf.data (a
            # dataset of the user's own, a filtered one) Keras finds the end in epoch 1 and
            # warns "Your input ran out of data", which here is never a problem, only noise.
            warnings.filterwarnings("ignore", "Your input ran out of data", UserWarning)
            fitted = model.fit(
                epoch_batches(data.train, cfg),
                validation_data=data.validation,
                initial_epoch=start,
                epochs=stop,
                callbacks=all_callbacks,
                verbose=int(cfg.verbose),
                shuffle=False,  # the tf.data pipeline shuffles
            )
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    return history
