"""The ``optimizer`` group built: the Keras optimizer with the learning rate the ``schedule``
group makes, once the number of steps per epoch is known."""

from __future__ import annotations

import math

import keras
from hydra.utils import get_class, get_method
from omegaconf import DictConfig, OmegaConf

from imgexp.dataset.bundle import DataBundle
from imgexp.schedule.schedules import Schedule


def steps_per_epoch(cfg: DictConfig, data: DataBundle) -> int:
    """Optimizer steps per epoch: ``trainer.steps_per_epoch`` or ceil(train size / batch)."""
    if cfg.trainer.get("steps_per_epoch"):
        return int(cfg.trainer.steps_per_epoch)
    count = data.counts.get("train")
    if count:
        return max(1, math.ceil(int(count) / int(cfg.trainer.batch_size)))
    return max(1, int(data.train.cardinality()))


def build_optimizer(
    cfg: DictConfig, data: DataBundle
) -> tuple[keras.Optimizer, list[keras.callbacks.Callback]]:
    """``optimizer`` instantiated with the rate ``schedule`` makes, and its callbacks."""
    params = {k: v for k, v in cfg.schedule.items() if k != "_target_"}
    schedule: Schedule = get_method(cfg.schedule._target_)(
        float(cfg.optimizer.learning_rate),
        steps_per_epoch(cfg, data),
        int(cfg.trainer.epochs),
        **params,
    )
    # Not hydra's instantiate: the typed config cannot hold a schedule object.
    params = OmegaConf.to_container(cfg.optimizer, resolve=True)
    optimizer_class = get_class(params.pop("_target_"))
    optimizer = optimizer_class(**(params | {"learning_rate": schedule.learning_rate}))
    return optimizer, schedule.callbacks
