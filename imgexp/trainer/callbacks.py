"""Keras callbacks: those configured in ``trainer.callbacks``, and the two the runner adds to
every trainer (the per-epoch MLflow logger and the Ctrl-C/SIGTERM safe points)."""

from __future__ import annotations

import keras
from hydra.utils import instantiate
from omegaconf import DictConfig

from imgexp.tracking.interrupts import raise_if_stopping
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


class StopOnSignal(keras.callbacks.Callback):
    """The trainers' safe points for Ctrl-C/SIGTERM: a stop request becomes a KeyboardInterrupt
    between steps, never in the middle of TensorFlow or an MLflow write."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        raise_if_stopping()

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        raise_if_stopping()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        raise_if_stopping()


def enabled_callback_nodes(cfg: DictConfig) -> dict[str, DictConfig]:
    """``trainer.callbacks`` entries that are set and not ``enabled: false``."""
    nodes = {}
    for key, node in (cfg.get("callbacks") or {}).items():
        if node and node.get("enabled", True):
            nodes[key] = node
    return nodes


def config_callbacks(cfg: DictConfig) -> list[keras.callbacks.Callback]:
    """Instantiate the enabled ``trainer.callbacks`` (a mapping, so `~trainer.callbacks.x`
    removes one and `trainer.callbacks.x.enabled=true` switches one on)."""
    callbacks = []
    for node in enabled_callback_nodes(cfg).values():
        params = {key: value for key, value in node.items() if key != "enabled"}
        callbacks.append(instantiate(params))
    return callbacks
