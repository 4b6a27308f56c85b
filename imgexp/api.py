"""Python API for notebooks: the same composition and validation as the CLI, in one call.

>>> result = imgexp.train("experiment=fashion_mnist_mlp", "trainer.epochs=2")
>>> result.run_id, result.metrics["test_accuracy"], result.model

An entry point, like `imgexp.cli`: nothing inside imgexp imports it."""

from __future__ import annotations

from pathlib import Path

from omegaconf import open_dict

from imgexp.config import compose_config
from imgexp.job import JobInfo, TrainResult

__all__ = ["compose_config", "train"]


def train(*overrides: str, config_dir: str | Path | None = None) -> TrainResult:
    """Train one configuration; returns a `TrainResult` (run_id, metrics, history, model)."""
    from imgexp.runner import run

    cfg = compose_config(*overrides, config_dir=config_dir)
    preset = cfg.hydra.runtime.choices.get("experiment")
    with open_dict(cfg):
        del cfg["hydra"]
    return run(cfg, JobInfo(overrides=list(overrides), preset=preset))
