"""Registers every group's schema in Hydra's ConfigStore, plus the resolvers the YAML uses, and
composes a config the way ``imgexp`` does (`compose_config`).

Importing this module is cheap (no TensorFlow): the CLI composes and validates the whole config
before any heavy import happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from imgexp.augmentation import schema as augmentation_schema
from imgexp.config_checks import FINITE, NON_NEGATIVE, check_config, one_of, optional, ranged
from imgexp.dataset import schema as dataset_schema
from imgexp.errors import ConfigError
from imgexp.model import schema as model_schema
from imgexp.optimizer import schema as optimizer_schema
from imgexp.paths import home as paths_home
from imgexp.paths import schema as paths_schema
from imgexp.schedule import schema as schedule_schema
from imgexp.tracking import schema as tracking_schema
from imgexp.tracking import uri as tracking_uri
from imgexp.trainer import schema as trainer_schema

CONFIG_MODULE = "imgexp.conf"
CONFIG_PATH = f"pkg://{CONFIG_MODULE}"
CONFIG_NAME = "config"


@dataclass
class ObjectiveConfig:
    """The metric a sweep optimises (returned by the task function)."""

    metric: str = "val_accuracy"
    direction: str = ranged("maximize", one_of("maximize", "minimize"))


@dataclass
class ReproduceBudget:
    """One budget of ``imgexp reproduce`` (imgexp/reproduce.py): the overrides it trains the
    preset with, the figure expected of ``reproduce.metric`` (null: none to compare with) and
    how far the measured figure may lie from it; ``note`` says where the figure comes from."""

    overrides: list[str] = field(default_factory=list)
    expected: float | None = ranged(None, optional(FINITE))
    tolerance: float | None = ranged(None, optional(NON_NEGATIVE))
    note: str | None = None


@dataclass
class ReproduceConfig:
    """What a preset reproduces: the metric its tutorial reports, the tutorial (title and
    link), the tutorial's own figure (``full``) and a short budget measured here (``quick``)."""

    metric: str = "test_accuracy"
    source: str | None = None
    full: ReproduceBudget = field(default_factory=ReproduceBudget)
    quick: ReproduceBudget = field(default_factory=ReproduceBudget)


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
    reproduce: ReproduceConfig = field(default_factory=ReproduceConfig)


# Each group's schemas by the name its YAML options extend (``defaults: [base_mlp]``).
GROUPS: dict[str, dict[str, type]] = {
    "dataset": {"base_dataset": dataset_schema.DatasetConfig},
    "model": model_schema.SCHEMAS,
    "optimizer": optimizer_schema.SCHEMAS,
    "schedule": schedule_schema.SCHEMAS,
    "augmentation": augmentation_schema.SCHEMAS,
    "trainer": trainer_schema.SCHEMAS,
    "tracking": tracking_schema.SCHEMAS,
    "paths": paths_schema.SCHEMAS,
}


def register() -> None:
    """Store all schemas (idempotent) and register the path resolvers."""
    store = ConfigStore.instance()
    store.store(name="base_config", node=Config)
    for group, schemas in GROUPS.items():
        for name, node in schemas.items():
            store.store(group=group, name=name, node=node)
    OmegaConf.register_new_resolver("imgexp_home", paths_home.imgexp_home, replace=True)
    OmegaConf.register_new_resolver("imgexp_data_dir", paths_home.data_home, replace=True)
    # ${imgexp_env:NAME,default}: $NAME when set and not empty (MLFLOW_TRACKING_URI, ...).
    OmegaConf.register_new_resolver("imgexp_env", tracking_uri.env_or, replace=True)


register()


def compose_config(
    *overrides: str, config_dir: str | Path | None = None, config_name: str = CONFIG_NAME
) -> DictConfig:
    """Compose (and validate) the config exactly as ``imgexp <overrides>`` would, with Hydra's
    node (``cfg.hydra``) included.

    ``config_dir`` adds a directory of your own YAML files to Hydra's search path; it must
    exist (Hydra would silently skip it). ``config_name`` picks another primary config there
    (`imgexp.rerun` composes a logged run's). Every value is range-checked (`check_config`)."""
    extra = []
    if config_dir is not None:
        directory = Path(config_dir).expanduser()
        if not directory.is_dir():
            raise ConfigError(
                f"config_dir={config_dir}: no such directory; expected a folder of your own "
                "YAML configs laid out like conf/ (<dir>/<group>/<option>.yaml)"
            )
        extra.append(f"hydra.searchpath=[file://{directory.resolve()}]")
    if config_name == CONFIG_NAME:
        context = initialize_config_module(CONFIG_MODULE, version_base="1.3")
    else:  # a primary config of config_dir's: the packaged groups go on the search path
        context = initialize_config_dir(str(directory.resolve()), version_base="1.3")
        extra = [f"hydra.searchpath=[{CONFIG_PATH}]"]
    with context:
        cfg = compose(config_name, overrides=list(overrides) + extra, return_hydra_config=True)
    return check_config(cfg)


def schema_of(group: str, node: Any) -> type | None:
    """The schema a logged group node was composed with: the group's only schema, or the one
    whose default ``_target_`` the node names; None when none fits (a user's own builder)."""
    schemas = list(GROUPS.get(group, {}).values())
    if len(schemas) == 1:
        return schemas[0]
    target = node.get("_target_") if isinstance(node, dict) else None
    matching = [s for s in schemas if getattr(s, "_target_", None) == target]
    return matching[0] if matching else None


def structured(plain: dict[str, Any]) -> DictConfig:
    """A plain (logged) config typed by the same schemas as a composed one: unknown keys and
    wrong types raise `ConfigError`, as in composition; ranges are not checked here."""
    from omegaconf.errors import OmegaConfBaseException

    cfg = OmegaConf.structured(Config)
    for key, value in plain.items():
        schema = schema_of(key, value) if key in GROUPS else None
        try:
            if schema is not None:
                cfg[key] = OmegaConf.merge(OmegaConf.structured(schema), value)
            else:
                cfg = OmegaConf.merge(cfg, {key: value})
        except OmegaConfBaseException as error:
            where = f"{key}.{error.full_key}" if schema is not None else error.full_key
            reason = str(error).splitlines()[0]
            raise ConfigError(f"{where}: {reason} (does not fit imgexp's schemas)") from error
    OmegaConf.set_struct(cfg, True)
    return cfg
