"""``imgexp audit [OVERRIDE ...]``: the data audit of a dataset config without training: the
config composed exactly as ``imgexp`` composes it (any override: ``dataset=...``,
``dataset.data_dir=...``, ``experiment=...``), the splits built as a run builds them, and the
audit (`imgexp.dataset.audit`) printed and written as ``data_audit.json`` and
``data_audit.png``. No model, no MLflow run. ``--strict``: exit status 1 when splits share
images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from imgexp.cli.failure import guard

EXIT_OVERLAP = 1


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(
        prog="imgexp audit",
        description="Build a dataset config's splits as training would (no model, no MLflow "
        "run) and report exact duplicate images within and across splits, class counts and "
        "imbalance, image sizes, modes and formats, and skipped files; writes "
        "data_audit.json and data_audit.png.",
    )
    cli.add_argument("overrides", nargs="*", help="config overrides, as for `imgexp`")
    cli.add_argument("--config-dir", help="a directory of your own YAML configs")
    cli.add_argument(
        "--output",
        type=Path,
        help="directory for data_audit.json and data_audit.png "
        "(default: ./data_audit/<dataset name>)",
    )
    cli.add_argument(
        "--strict",
        action="store_true",
        help=f"exit with status {EXIT_OVERLAP} when two splits share an image",
    )
    cli.add_argument(
        "--show", type=int, default=10, help="pairs and groups printed of each (default 10)"
    )
    return cli


def main(argv: list[str] | None = None) -> int:
    """Audit, print, write; the exit status (2 for a bad override or missing data)."""
    args = parser().parse_intermixed_args(argv)
    return guard("imgexp audit", lambda: audit(args))


def audit(args: argparse.Namespace) -> int:
    """Compose (fails fast, before TensorFlow loads), build the splits, report."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from imgexp.config import compose_config
    from imgexp.errors import ConfigError

    try:
        cfg = compose_config(*args.overrides, config_dir=args.config_dir)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(str(error)) from error
    from imgexp.trainer.tensorflow_import import import_tensorflow

    import_tensorflow()
    from imgexp.dataset.audit_summary import summary_lines
    from imgexp.dataset.build import build_data
    from imgexp.evaluation.audit_figure import audit_figure

    data = build_data(cfg.dataset, int(cfg.trainer.batch_size), int(cfg.trainer.seed))
    print(f"dataset {data.name} from {data.source}")
    print("\n".join(summary_lines(data.audit, args.show)))
    output = args.output or Path("data_audit") / data.name
    output.mkdir(parents=True, exist_ok=True)
    (output / "data_audit.json").write_text(json.dumps(data.audit, indent=2) + "\n")
    audit_figure(data.audit, f"data audit: {data.name}").savefig(output / "data_audit.png")
    print(f"written: {output / 'data_audit.json'}, {output / 'data_audit.png'}")
    return EXIT_OVERLAP if args.strict and data.audit["overlap_pairs"] else 0
