"""Registers every group's schema in Hydra's ConfigStore, plus the resolvers the YAML uses, and
composes a config the way ``imgexp`` does (`compose_config`).

Importing this module is cheap (no TensorFlow): the CLI composes and validates the whole config
before any heavy import happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from imgexp.augmentation import schema as augmentation_schema
from imgexp.dataset import schema as dataset_schema
from imgexp.model import schema as model_schema
from imgexp.optimizer import schema as optimizer_schema
from imgexp.paths import home as paths_home
from imgexp.paths import schema as paths_schema
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
        "paths": paths_schema.SCHEMAS,
    }
    for group, schemas in groups.items():
        for name, node in schemas.items():
            store.store(group=group, name=name, node=node)
    OmegaConf.register_new_resolver("imgexp_home", paths_home.imgexp_home, replace=True)
    OmegaConf.register_new_resolver("imgexp_data_dir", paths_home.data_home, replace=True)


register()


def compose_config(*overrides: str, config_dir: str | Path | None = None) -> DictConfig:
    """Compose (and validate) the config exactly as ``imgexp <overrides>`` would, with Hydra's
    node (``cfg.hydra``) included.

    ``config_dir`` adds a directory of your own YAML files to Hydra's search path."""
    extra = []
    if config_dir is not None:
        extra.append(f"hydra.searchpath=[file://{Path(config_dir).resolve()}]")
    with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
        return compose(CONFIG_NAME, overrides=list(overrides) + extra, return_hydra_config=True)
