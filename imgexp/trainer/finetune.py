"""Thawing a frozen backbone part-way through training (``trainer.unfreeze``)."""

from __future__ import annotations

import logging

import keras
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def unfreeze_epoch(cfg: DictConfig, epochs: int) -> int | None:
    """The epoch (0-based) at which to thaw, or None when there is nothing to do."""
    epoch = cfg.get("unfreeze", {}).get("epoch")
    if epoch is None:
        return None
    if not 0 < int(epoch) < epochs:
        raise ValueError(
            f"trainer.unfreeze.epoch={epoch} must lie between 1 and trainer.epochs - 1 "
            f"({epochs - 1})"
        )
    return int(epoch)


def unfreeze(model: keras.Model, cfg: DictConfig) -> None:
    """Make ``unfreeze.layer`` trainable from its sub-layer ``from_layer`` on."""
    try:
        layer = model.get_layer(cfg.layer)
    except ValueError as error:
        names = [layer.name for layer in model.layers]
        raise ValueError(
            f"trainer.unfreeze.layer={cfg.layer!r} is not a layer of the model: {names}"
        ) from error
    layer.trainable = True
    for sublayer in getattr(layer, "layers", [])[: int(cfg.from_layer)]:
        sublayer.trainable = False
    log.info("unfroze %s from sub-layer %d on", cfg.layer, int(cfg.from_layer))


def scaled_optimizer(optimizer: keras.Optimizer, scale: float) -> keras.Optimizer:
    """A fresh optimizer of the same kind with the learning rate times ``scale`` (a schedule is
    kept as it is: scaling it would change its shape)."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # unwrap loss scaling
    config = optimizer.get_config()
    if isinstance(config.get("learning_rate"), (int, float)):
        config["learning_rate"] = float(config["learning_rate"]) * scale
    else:
        log.warning("trainer.unfreeze.lr_scale is ignored with a learning-rate schedule")
    return optimizer.__class__.from_config(config)
