"""``imgexp rerun <run_id> [overrides...]``: train again from the exact config a run logged
(`imgexp.rerun`), through the same Hydra application as ``imgexp`` itself: every override and
flag training accepts (``tracking.*``, ``hydra.*``, ``-m``), in any order around the run id."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    """The command line (Hydra's own flags, e.g. ``-m``, pass through)."""
    cli = argparse.ArgumentParser(
        prog="imgexp rerun",
        description="Train again from the exact config a run logged. Overrides and Hydra "
        "flags (-m, --cfg job, hydra.run.dir=...) work as for `imgexp`, in any order. The run "
        "is looked for in --tracking-uri, else a tracking.uri= override, else "
        "$MLFLOW_TRACKING_URI, else imgexp's default store; the new run goes there too.",
    )
    cli.add_argument("run_id")
    cli.add_argument("overrides", nargs="*", help="key=value on top of the logged config")
    cli.add_argument("--tracking-uri", help="MLflow store holding the run (see above)")
    return cli


def main(argv: list[str]) -> int:
    """Entry of ``imgexp rerun``: fetch and check the logged config, then hand it to the Hydra
    app as its primary config."""
    cli = parser()
    args, hydra_flags = cli.parse_known_intermixed_args(argv)
    words = [args.run_id, *args.overrides]
    ids = [word for word in words if "=" not in word]
    if len(ids) != 1:
        cli.error(f"give exactly one run id (words without '='), got {ids or 'none'}")
    args.run_id, args.overrides = ids[0], [word for word in words if "=" in word]
    from imgexp import rerun
    from imgexp.cli.train import main as hydra_app

    store = rerun.source_store(args.tracking_uri, args.overrides)
    source = rerun.fetch(args.run_id, store)
    rerun.warn_versions(source)
    with tempfile.TemporaryDirectory(prefix="imgexp-rerun-") as directory:
        rerun.write_primary(source, store, Path(directory))
        os.environ.update(rerun.rerun_environment(source))
        sys.argv = [
            "imgexp", "--config-dir", directory, "--config-name", rerun.PRIMARY,
            *hydra_flags, *args.overrides,
        ]  # fmt: skip
        hydra_app()
    return 0
