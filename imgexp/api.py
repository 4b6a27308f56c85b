"""Python API for notebooks: the same composition and validation as the CLI, in one call.

>>> result = imgexp.train("experiment=fashion_mnist_mlp", "trainer.epochs=2")
>>> result.run_id, result.metrics["test_accuracy"], result.model
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, open_dict

from imgexp import config


def compose_config(*overrides: str, config_dir: str | Path | None = None) -> DictConfig:
    """Compose (and validate) the config exactly as ``imgexp <overrides>`` would.

    ``config_dir`` adds a directory of your own YAML files to Hydra's search path."""
    extra = []
    if config_dir is not None:
        extra.append(f"hydra.searchpath=[file://{Path(config_dir).resolve()}]")
    with initialize_config_module(config.CONFIG_MODULE, version_base="1.3"):
        return compose(
            config.CONFIG_NAME, overrides=list(overrides) + extra, return_hydra_config=True
        )


def train(*overrides: str, config_dir: str | Path | None = None):
    """Train one configuration; returns a `TrainResult` (run_id, metrics, history, model)."""
    from imgexp.runner import JobInfo, run

    cfg = compose_config(*overrides, config_dir=config_dir)
    preset = cfg.hydra.runtime.choices.get("experiment")
    with open_dict(cfg):
        del cfg["hydra"]
    return run(cfg, JobInfo(overrides=list(overrides), preset=preset))


def default_tracking_uri() -> str:
    """The MLflow store imgexp trains into by default (``$IMGEXP_HOME``'s sqlite file)."""
    return str(compose_config().tracking.uri)
