"""Registers every group's schema in Hydra's ConfigStore, plus the resolvers the YAML uses.

Importing this module is cheap (no TensorFlow): the CLI composes and validates the whole config
before any heavy import happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from imgexp import paths
from imgexp.augmentation import schema as augmentation_schema
from imgexp.dataset import schema as dataset_schema
from imgexp.model import schema as model_schema
from imgexp.optimizer import schema as optimizer_schema
from imgexp.schedule import schema as schedule_schema
from imgexp.tracking import schema as tracking_schema
from imgexp.trainer import schema as trainer_schema

CONFIG_MODULE = "imgexp.conf"
CONFIG_PATH = f"pkg://{CONFIG_MODULE}"
CONFIG_NAME = "config"


@dataclass
class ObjectiveConfig:
    """The metric a sweep optimises (returned by the task function)."""

    metric: str = "val_accuracy"
    direction: str = "maximize"


@dataclass
class Config:
    """Top level of the composed config; each group is checked by its own schema."""

    dataset: Any = MISSING
    model: Any = MISSING
    optimizer: Any = MISSING
    schedule: Any = MISSING
    augmentation: Any = MISSING
    trainer: Any = MISSING
    tracking: Any = MISSING
    paths: Any = MISSING
    task_name: str = "train"
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)


def register() -> None:
    """Store all schemas (idempotent) and register the path resolvers."""
    store = ConfigStore.instance()
    store.store(name="base_config", node=Config)
    store.store(group="dataset", name="base_dataset", node=dataset_schema.DatasetConfig)
    groups = {
        "model": model_schema.SCHEMAS,
        "optimizer": optimizer_schema.SCHEMAS,
        "schedule": schedule_schema.SCHEMAS,
        "augmentation": augmentation_schema.SCHEMAS,
        "trainer": trainer_schema.SCHEMAS,
        "tracking": tracking_schema.SCHEMAS,
        "paths": paths.SCHEMAS,
    }
    for group, schemas in groups.items():
        for name, node in schemas.items():
            store.store(group=group, name=name, node=node)
    OmegaConf.register_new_resolver("imgexp_home", paths.imgexp_home, replace=True)
    OmegaConf.register_new_resolver("imgexp_data_dir", paths.data_home, replace=True)


register()
