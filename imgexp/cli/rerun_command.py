"""``imgexp rerun <run_id> [overrides...]``: train again from the exact config a run logged
(`imgexp.rerun`)."""

from __future__ import annotations

import argparse
import logging

from imgexp.cli.closing import print_run_location, print_test_accuracy


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(
        prog="imgexp rerun", description="Train again from the exact config a run logged."
    )
    cli.add_argument("run_id")
    cli.add_argument("overrides", nargs="*", help="key=value on top of the logged config")
    cli.add_argument("--tracking-uri", help="MLflow store holding the run (default: imgexp's)")
    return cli


def main(argv: list[str]) -> int:
    """Entry of ``imgexp rerun``."""
    cli = parser()
    args = cli.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    from imgexp.rerun import rerun
    from imgexp.tracking.uri import default_tracking_uri

    # A user error (unknown run, refused _target_, bad value) is reported by the entry point.
    result = rerun(args.run_id, args.overrides, args.tracking_uri)
    print_test_accuracy(result.metrics)
    uri = args.tracking_uri or default_tracking_uri()
    print_run_location(result.run_id, result.experiment_id, uri, f"rerun of {args.run_id}")
    return 0
