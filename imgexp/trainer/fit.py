"""The ``fit`` trainer: compile and ``model.fit`` with callbacks from config."""

from __future__ import annotations

import keras
from hydra.utils import instantiate
from omegaconf import DictConfig

from imgexp.dataset.bundle import DataBundle


def compile_model(model: keras.Model, optimizer: keras.Optimizer, cfg: DictConfig) -> None:
    """Sparse categorical cross-entropy on the softmax outputs, accuracy as the metric."""
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
        steps_per_execution=int(cfg.steps_per_execution),
        jit_compile=cfg.jit_compile,
    )


def config_callbacks(cfg: DictConfig) -> list[keras.callbacks.Callback]:
    """Instantiate ``trainer.callbacks`` (a mapping, so `~trainer.callbacks.x` removes one)."""
    return [instantiate(node) for node in (cfg.get("callbacks") or {}).values() if node]


def train(
    model: keras.Model,
    optimizer: keras.Optimizer,
    data: DataBundle,
    cfg: DictConfig,
    callbacks: list[keras.callbacks.Callback],
) -> dict[str, list[float]]:
    """Fit for ``cfg.epochs`` and return the per-epoch history."""
    compile_model(model, optimizer, cfg)
    history = model.fit(
        data.train,
        validation_data=data.validation,
        epochs=int(cfg.epochs),
        callbacks=config_callbacks(cfg) + callbacks,
        verbose=int(cfg.verbose),
        shuffle=False,  # the tf.data pipeline shuffles
    )
    return {key: [float(v) for v in values] for key, values in history.history.items()}
