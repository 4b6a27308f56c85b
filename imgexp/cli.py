"""The ``imgexp`` console script: compose and validate the config (fast, no TensorFlow), then
hand it to the runner."""

from __future__ import annotations

import importlib
import logging
import math
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from imgexp import config
from imgexp.tracking.env import SWEEP_NAME_ENV

log = logging.getLogger("imgexp")


def job_info() -> object:
    """What Hydra knows about the current job, as the runner's `JobInfo`."""
    from imgexp.runner import JobInfo

    hydra_cfg = HydraConfig.get()
    return JobInfo(
        overrides=list(hydra_cfg.overrides.task),
        preset=hydra_cfg.runtime.choices.get("experiment"),
        output_dir=hydra_cfg.runtime.output_dir,
        sweep_name=os.environ.get(SWEEP_NAME_ENV),
    )


def report(cfg: DictConfig, result: object) -> None:
    """Tell the user where the run is and how to look at it."""
    from imgexp.tracking.store import runs_url, ui_command

    accuracy = result.metrics.get("test_accuracy", float("nan"))
    spread = result.metrics.get("test_accuracy_std")  # a k-fold/repeat group: mean ± std
    n = f" ± {spread:.4f} (mean of {result.metrics['n']:.0f} runs)" if spread is not None else ""
    print(f"test accuracy: {accuracy:.4f}{n}")
    if result.run_id:
        print(f"MLflow run id: {result.run_id} (experiment '{cfg.tracking.experiment}')")
        print(f"open the UI:   {ui_command(cfg.tracking.uri)}")
        print(f"then browse:   {runs_url(result.experiment_id, result.run_id)}")


@hydra.main(version_base="1.3", config_path=config.CONFIG_PATH, config_name=config.CONFIG_NAME)
def main(cfg: DictConfig) -> float:
    """Train one configuration; return the objective for sweepers."""
    from imgexp.runner import run

    result = run(cfg, job_info())
    report(cfg, result)
    value = result.objective(cfg.objective.metric)
    if math.isnan(value) and os.environ.get(SWEEP_NAME_ENV):
        # A NaN would stop an Optuna sweep; a misnamed metric is a config error.
        raise ValueError(
            f"objective.metric={cfg.objective.metric!r} is not a metric of this run; "
            f"it has: {', '.join(sorted(result.metrics))}"
        )
    return value


# `imgexp <subcommand> ...` for work on past runs; anything else is a Hydra training command.
SUBCOMMANDS = {"rerun": "imgexp.rerun", "report": "imgexp.report"}


USAGE = """imgexp: config-driven image-classification experiments (Hydra + Keras 3 + MLflow)

  imgexp [group=option ...] [key=value ...]     train one configuration
  imgexp -m group=a,b key=1,2 ...                a sweep: one MLflow run per job, under a parent
  imgexp rerun <run_id> [key=value ...]          train again from a logged run's exact config
  imgexp report <experiment | parent run id>     the table of a past sweep or fold/repeat group

Config groups (conf/) and their options:
{groups}
  experiment: {presets}

  imgexp --cfg job [overrides]       the composed config (validated, no training)
  imgexp --info defaults-tree ...    what a preset composed
  imgexp --hydra-help                Hydra's own options (launchers, sweepers, searchpath)
Runs go to the MLflow store under $IMGEXP_HOME (default ~/.imgexp); see README.md."""


def usage() -> str:
    """The help text, listing the packaged groups from conf/ without composing anything (Hydra's
    own --help deep-copies its config store once per group: seconds)."""
    from importlib.resources import files

    root = files(config.CONFIG_MODULE)
    groups = [g for g in root.iterdir() if g.is_dir() and g.name not in ("hydra", "__pycache__")]
    options = {
        group.name: sorted(p.name.removesuffix(".yaml") for p in group.iterdir()
                           if p.name.endswith(".yaml"))
        for group in groups
    }  # fmt: skip
    presets = options.pop("experiment", [])
    lines = [f"  {name}: {', '.join(opts)}" for name, opts in sorted(options.items())]
    return USAGE.format(groups="\n".join(lines), presets=", ".join(presets))


def entry() -> None:
    """Console script: fast help, a subcommand, or compose and train."""
    if len(sys.argv) > 1 and sys.argv[1] in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[sys.argv[1]])
        sys.exit(module.main(sys.argv[2:]))
    if len(sys.argv) == 2 and sys.argv[1] in ("--help", "-h"):
        print(usage())
        return
    main()


if __name__ == "__main__":
    entry()
