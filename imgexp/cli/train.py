"""``imgexp [overrides]``: the Hydra application that trains one configuration (or, with
``--multirun``, one per sweep job) and returns its objective to the sweeper.

Every value is range-checked before TensorFlow is imported; a user error (imgexp/cli/failure.py)
ends a single run with a short message and exit status 2, and a sweep job as a failed job."""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig

from imgexp import config
from imgexp.cli import failure
from imgexp.cli.closing import is_new_store, print_run_location, print_test_accuracy
from imgexp.config_checks import check_config
from imgexp.errors import ConfigError
from imgexp.tracking.env import RERUN_DIGEST_ENV, RERUN_OF_ENV, RERUN_PRESET_ENV, SWEEP_NAME_ENV

if TYPE_CHECKING:
    from imgexp.job import JobInfo


def job_info() -> JobInfo:
    """What Hydra knows about the current job, as the runner's `JobInfo`."""
    from imgexp.job import JobInfo  # imports MLflow: after the checks

    hydra_cfg = HydraConfig.get()
    return JobInfo(
        overrides=list(hydra_cfg.overrides.task),
        preset=hydra_cfg.runtime.choices.get("experiment") or os.environ.get(RERUN_PRESET_ENV),
        output_dir=hydra_cfg.runtime.output_dir,
        sweep_name=os.environ.get(SWEEP_NAME_ENV),
        rerun_of=os.environ.get(RERUN_OF_ENV) or None,
        expected_digest=os.environ.get(RERUN_DIGEST_ENV) or None,
    )


class JobUserError(CompactHydraException):
    """A sweep job's user error, handed to Hydra, which prints it without a traceback and
    goes on with the sweep as for any failed job."""


@hydra.main(version_base="1.3", config_path=config.CONFIG_PATH, config_name=config.CONFIG_NAME)
def main(cfg: DictConfig) -> float:
    """Train one configuration; return the objective for sweepers. A user error ends a single
    run with its message (exit status 2) and a sweep job as a failed job."""
    try:
        return train(cfg)
    except Exception as error:
        found = failure.user_error(error)
        if failure.debugging() or found is None:
            raise
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise JobUserError(f"imgexp: error: {found}") from error
        sys.exit(failure.report("imgexp", found))


def train(cfg: DictConfig) -> float:
    """Check the ranges (before TensorFlow loads), train, print where the run is."""
    rerun_of = os.environ.get(RERUN_OF_ENV)
    if rerun_of:  # `imgexp rerun`: a logged config, typed and allowlisted again
        from imgexp.rerun import checked_config

        cfg = checked_config(cfg, f"the rerun of {rerun_of}")
    else:
        check_config(cfg)
    from imgexp.runner import run

    new_store = is_new_store(cfg.tracking.uri)
    result = run(cfg, job_info())
    print_test_accuracy(result.metrics)
    where = f"rerun of {rerun_of}" if rerun_of else f"experiment '{cfg.tracking.experiment}'"
    print_run_location(result.run_id, result.experiment_id, cfg.tracking.uri, where, new_store)
    value = result.objective(cfg.objective.metric)
    if math.isnan(value) and os.environ.get(SWEEP_NAME_ENV):
        # A NaN would stop an Optuna sweep; a misnamed metric is a config error.
        raise ConfigError(
            f"objective.metric={cfg.objective.metric!r} is not a metric of this run; "
            f"it has: {', '.join(sorted(result.metrics))}"
        )
    return value
