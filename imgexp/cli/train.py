"""``imgexp [overrides]``: the Hydra application that trains one configuration (or, with
``--multirun``, one per sweep job) and returns its objective to the sweeper."""

from __future__ import annotations

import math
import os

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from imgexp import config
from imgexp.cli.closing import print_run_location, print_test_accuracy
from imgexp.job import JobInfo
from imgexp.tracking.env import SWEEP_NAME_ENV


def job_info() -> JobInfo:
    """What Hydra knows about the current job, as the runner's `JobInfo`."""
    hydra_cfg = HydraConfig.get()
    return JobInfo(
        overrides=list(hydra_cfg.overrides.task),
        preset=hydra_cfg.runtime.choices.get("experiment"),
        output_dir=hydra_cfg.runtime.output_dir,
        sweep_name=os.environ.get(SWEEP_NAME_ENV),
    )


@hydra.main(version_base="1.3", config_path=config.CONFIG_PATH, config_name=config.CONFIG_NAME)
def main(cfg: DictConfig) -> float:
    """Train one configuration; return the objective for sweepers."""
    from imgexp.runner import run

    result = run(cfg, job_info())
    print_test_accuracy(result.metrics)
    where = f"experiment '{cfg.tracking.experiment}'"
    print_run_location(result.run_id, result.experiment_id, cfg.tracking.uri, where)
    value = result.objective(cfg.objective.metric)
    if math.isnan(value) and os.environ.get(SWEEP_NAME_ENV):
        # A NaN would stop an Optuna sweep; a misnamed metric is a config error.
        raise ValueError(
            f"objective.metric={cfg.objective.metric!r} is not a metric of this run; "
            f"it has: {', '.join(sorted(result.metrics))}"
        )
    return value
