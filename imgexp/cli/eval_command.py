"""``imgexp eval MODEL [OVERRIDE ...]`` (also the ``imgexp-eval`` script): evaluate a logged
model on a dataset's test split (`imgexp.evaluation.logged_model`), overrides in Hydra syntax as
for ``imgexp`` (e.g. ``dataset=fashion_mnist``, ``tracking.uri=...``). Composition happens
before TensorFlow loads, so a bad override fails fast."""

from __future__ import annotations

import argparse
import os
import sys

from imgexp.cli.closing import print_run_location
from imgexp.cli.failure import guard
from imgexp.errors import UserError


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(
        prog="imgexp eval",
        description="Evaluate a logged model on a dataset config's test split and log metrics, "
        "classification report, confusion matrix and sample grid into a new MLflow run tagged "
        "with the training run's id (imgexp.source_run_id).",
    )
    cli.add_argument(
        "model", help="runs:/<run_id>/model, models:/<name>/<version>, or a .keras file"
    )
    cli.add_argument(
        "overrides",
        nargs="*",
        help="config overrides; without dataset=/experiment= the "
        "training run's own dataset config is used",
    )
    cli.add_argument("--config-dir", help="a directory of your own YAML configs")
    return cli


def main(argv: list[str] | None = None) -> int:
    """Evaluate, print the metrics and where the run is; returns the exit status."""
    args = parser().parse_intermixed_args(argv)
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from imgexp.config import compose_config

    try:
        cfg = compose_config(*args.overrides, config_dir=args.config_dir)  # fails fast, no TF
    except (HydraException, OmegaConfBaseException, UserError) as error:
        print(f"imgexp eval: error: {error}", file=sys.stderr)
        return 2
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from imgexp.evaluation.logged_model import evaluate_logged_model
    from imgexp.predict.source import ModelSourceError
    from imgexp.tracking.store import TrackingStoreError

    try:
        result = evaluate_logged_model(
            args.model, *args.overrides, config_dir=args.config_dir, composed=cfg
        )
    except (ModelSourceError, FileNotFoundError, ValueError, TrackingStoreError) as error:
        print(f"imgexp eval: error: {error}", file=sys.stderr)
        return 1
    for name, value in sorted(result.metrics.items()):
        print(f"{name}: {value:.4f}")
    what = f"evaluates run {result.source_run_id}"
    print_run_location(result.run_id, result.experiment_id, cfg.tracking.uri, what)
    return 0


def run() -> None:
    """The ``imgexp-eval`` console script (an alias of ``imgexp eval``)."""
    sys.exit(guard("imgexp eval", main))
