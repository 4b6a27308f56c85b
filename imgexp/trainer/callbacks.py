"""Keras callbacks the runner adds to every trainer: per-epoch MLflow metrics."""

from __future__ import annotations

import keras

from imgexp.tracking.run import RunLogger


class MlflowEpochLogger(keras.callbacks.Callback):
    """Logs each epoch's train/validation metrics (and learning rate) in one batched call,
    with ``step`` = epoch number counted from 1."""

    def __init__(self, run: RunLogger) -> None:
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = {key: float(value) for key, value in (logs or {}).items()}
        self.run.log_metrics(metrics, step=epoch + 1)
