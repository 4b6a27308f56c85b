"""``imgexp report <experiment name or parent run id>``: print the report of a past sweep (or
of a k-fold/repeat group run) from MLflow alone (`imgexp.groups.report`): each child's
overrides, status, final metrics and wall time, best first, failed children with their error,
mean ± std of seed/fold groups."""

from __future__ import annotations

import argparse


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(
        prog="imgexp report",
        description="Print the report of a past sweep: an experiment name (its latest sweep) "
        "or a sweep's parent run id (a k-fold/repeat group run id works too).",
    )
    cli.add_argument("target", help="experiment name or parent run id")
    cli.add_argument(
        "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else imgexp's)"
    )
    cli.add_argument("--format", choices=["markdown", "csv"], default="markdown")
    cli.add_argument("--metric", help="objective to sort by (default: the sweep's)")
    cli.add_argument("--direction", choices=["maximize", "minimize"])
    return cli


def main(argv: list[str]) -> int:
    """Entry of ``imgexp report``."""
    cli = parser()
    args = cli.parse_intermixed_args(argv)
    from imgexp.groups.report import report
    from imgexp.groups.summary import GroupNotFound, find_parent
    from imgexp.tracking import store
    from imgexp.tracking.uri import tracking_uri

    uri = tracking_uri(args.tracking_uri)
    try:
        client = store.existing_client(uri)
        parent_run_id = find_parent(client, args.target, uri)
        built, _ = report(client, parent_run_id, args.metric, args.direction)
        if not built.rows:
            raise GroupNotFound(f"run {parent_run_id} in {uri} has no child runs: not a sweep")
    except (GroupNotFound, store.TrackingStoreError) as error:
        cli.exit(2, f"imgexp report: error: {error}\n")
    print(built.csv() if args.format == "csv" else built.markdown(), end="")
    return 0
