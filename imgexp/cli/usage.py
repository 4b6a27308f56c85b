"""``imgexp --help``: the commands and every packaged group's options, listed from conf/
without composing anything (Hydra's own --help deep-copies its config store once per group:
seconds)."""

from __future__ import annotations

from importlib.resources import files

from imgexp import config

USAGE = """imgexp: config-driven image-classification experiments (Hydra + Keras 3 + MLflow)

  imgexp [group=option ...] [key=value ...]     train one configuration
  imgexp -m group=a,b key=1,2 ...                a sweep: one MLflow run per job, under a parent
  imgexp rerun <run_id> [key=value ...]          train again from a logged run's exact config
  imgexp report <experiment | parent run id>     the table of a past sweep or fold/repeat group
  imgexp predict <model> <images or folders>     classify image files with a trained model
  imgexp eval <model> [key=value ...]            evaluate a logged model on a dataset's test split
  imgexp audit [key=value ...] [--strict]        a dataset's duplicates, split overlaps, balance
  imgexp lr-find [key=value ...] [--steps N]     learning-rate range test: a rate to train with
  imgexp reproduce <preset>... [--budget quick]  train presets, judge their figures: pass/fail

Config groups (conf/) and their options:
{groups}
  experiment: {presets}

  imgexp --cfg job [overrides]       the composed config (validated, no training)
  imgexp --info defaults-tree ...    what a preset composed
  imgexp --hydra-help                Hydra's own options (launchers, sweepers, searchpath)
  imgexp <command> --help            the options of rerun, report, predict, eval, lr-find, audit,
                                     reproduce
  HYDRA_FULL_ERROR=1 imgexp ...      a bad value or missing data with its Python traceback
Runs go to the MLflow store under $IMGEXP_HOME (default ~/.imgexp); see docs/tracking.md."""


def usage() -> str:
    """The help text, with the packaged groups and their options."""
    root = files(config.CONFIG_MODULE)
    groups = [g for g in root.iterdir() if g.is_dir() and g.name not in ("hydra", "__pycache__")]
    options = {
        group.name: sorted(
            p.name.removesuffix(".yaml") for p in group.iterdir() if p.name.endswith(".yaml")
        )
        for group in groups
    }
    presets = options.pop("experiment", [])
    lines = [f"  {name}: {', '.join(opts)}" for name, opts in sorted(options.items())]
    return USAGE.format(groups="\n".join(lines), presets=", ".join(presets))
