"""``imgexp report <experiment name or parent run id>``: print the report of a past sweep (or
of a k-fold/repeat group run) from MLflow alone: each child's overrides, status, final metrics
and wall time, best first, failed children with their error, mean ± std of seed/fold groups."""

from __future__ import annotations

import argparse
from typing import Any


class ReportError(RuntimeError):
    """The sweep cannot be found (unknown name or id, a run without children, no store)."""


def resolve(client: Any, target: str, uri: str) -> str:
    """The parent run id for ``target``: an experiment's latest sweep, or a run id."""
    from mlflow.exceptions import MlflowException

    try:
        experiment = client.get_experiment_by_name(target)
    except MlflowException as error:
        raise ReportError(f"cannot read the MLflow store {uri}: {error.message}") from error
    except Exception as error:  # noqa: BLE001 - unreachable server, bad URI, ...
        raise ReportError(f"cannot reach the MLflow store {uri}: {error}") from error
    if experiment is not None:
        latest = client.search_runs(
            [experiment.experiment_id], filter_string="tags.`imgexp.role` = 'sweep'",
            order_by=["attributes.start_time DESC"], max_results=1,
        )  # fmt: skip
        if not latest:
            raise ReportError(f"experiment {target!r} in {uri} has no sweep (imgexp -m ...)")
        return latest[0].info.run_id
    try:
        run = client.get_run(target)
    except MlflowException as error:
        names = sorted(e.name for e in client.search_experiments())
        raise ReportError(
            f"no experiment or run named {target!r} in {uri}; experiments: {', '.join(names)}"
        ) from error
    return run.info.run_id


def main(argv: list[str]) -> int:
    """Entry of ``imgexp report``."""
    parser = argparse.ArgumentParser(
        prog="imgexp report",
        description="Print the report of a past sweep: an experiment name (its latest sweep) "
        "or a sweep's parent run id (a k-fold/repeat group run id works too).",
    )
    parser.add_argument("target", help="experiment name or parent run id")
    parser.add_argument("--tracking-uri", help="MLflow store (default: imgexp's)")
    parser.add_argument("--format", choices=["markdown", "csv"], default="markdown")
    parser.add_argument("--metric", help="objective to sort by (default: the sweep's)")
    parser.add_argument("--direction", choices=["maximize", "minimize"])
    args = parser.parse_args(argv)
    from imgexp.api import default_tracking_uri
    from imgexp.tracking import store
    from imgexp.tracking.report import report

    uri = args.tracking_uri or default_tracking_uri()
    try:
        client = store.existing_client(uri)
        parent_run_id = resolve(client, args.target, uri)
        built, _ = report(client, parent_run_id, args.metric, args.direction)
        if not built.rows:
            raise ReportError(f"run {parent_run_id} in {uri} has no child runs: not a sweep")
    except (ReportError, store.TrackingStoreError) as error:
        parser.exit(2, f"imgexp report: error: {error}\n")
    print(built.csv() if args.format == "csv" else built.markdown(), end="")
    return 0
