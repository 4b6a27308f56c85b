"""``imgexp predict MODEL IMAGE_OR_FOLDER...`` (also the ``imgexp-predict`` script): a trained
model on new image files (`imgexp.predict`).

Exit status: 0 when every input was predicted, 3 when some were skipped (reported on stderr; the
rest are printed), 1 when nothing could be predicted or the model could not be loaded. Heavy
imports (TensorFlow, MLflow) wait until after argument parsing, so ``--help`` is instant."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from imgexp.cli.failure import guard
from imgexp.predict.images import DEFAULT_MAX_PIXELS

EXIT_SKIPPED = 3


def parser() -> argparse.ArgumentParser:
    """The command line."""
    cli = argparse.ArgumentParser(
        prog="imgexp predict",
        description="Predict the classes of image files with a trained imgexp model. The model "
        "takes raw pixels and applies its training preprocessing itself; files are only "
        "decoded, converted to its channels and resized (bilinear) to its input size.",
    )
    cli.add_argument(
        "model",
        help="runs:/<run_id>/model, models:/<name>/<version>, models:/<name>@<alias>, "
        "a .keras file or an MLflow model folder",
    )
    cli.add_argument("inputs", nargs="+", help="image files and/or folders of images")
    cli.add_argument("-k", "--top-k", type=int, default=3, help="classes per file (default 3)")
    cli.add_argument("-o", "--output", choices=("table", "csv", "json"), default="table")
    cli.add_argument(
        "--tracking-uri",
        help="MLflow store of runs:/ and models:/ URIs "
        "(default: $MLFLOW_TRACKING_URI, else imgexp's store, sqlite:///$IMGEXP_HOME/mlflow.db)",
    )
    cli.add_argument(
        "--class-names",
        metavar="JSON",
        help="class names file (a JSON list), for a .keras "
        "file without class_names.json beside it",
    )
    cli.add_argument("-r", "--recursive", action="store_true", help="descend into subfolders")
    cli.add_argument("--batch-size", type=int, default=32)
    cli.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="refuse images with more pixels as possible decompression bombs "
        f"(default {DEFAULT_MAX_PIXELS:,}, Pillow's limit)",
    )
    return cli


def main(argv: list[str] | None = None) -> int:
    """Parse, load, predict, print; returns the exit status."""
    args = parser().parse_intermixed_args(argv)  # flags before, between or after the files
    if args.top_k < 1:
        parser().error(f"--top-k must be at least 1, got {args.top_k}")
    if args.class_names and not Path(args.class_names).expanduser().is_file():
        parser().error(
            f"--class-names {args.class_names}: no such file; expected a JSON list of class "
            "names (or imgexp's class_names.json)"
        )
    # stdout carries only the results (csv/json for scripts); MLflow's download bars are noise.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from imgexp.predict import output, predictor, source
    from imgexp.predict.images import find_images
    from imgexp.tracking.uri import tracking_uri

    try:
        names = source.read_class_names(args.class_names) if args.class_names else None
        loaded = source.load(args.model, tracking_uri(args.tracking_uri), names)
    except (source.ModelSourceError, OSError, ValueError) as error:
        print(f"imgexp predict: {error}", file=sys.stderr)
        return 1
    files, problems = find_images(args.inputs, args.recursive)
    predictions, unreadable = predictor.predict_files(
        loaded, files, args.batch_size, args.max_pixels
    )
    for problem in problems + unreadable:
        print(f"skipped {problem.path}: {problem.message}", file=sys.stderr)
    if not predictions:
        print(
            f"imgexp predict: no image could be read from {' '.join(args.inputs)}", file=sys.stderr
        )
        return 1
    k = min(args.top_k, len(loaded.class_names))
    print(output.render(predictions, loaded.class_names, k, args.output))
    return EXIT_SKIPPED if problems or unreadable else 0


def run() -> None:
    """The ``imgexp-predict`` console script (an alias of ``imgexp predict``)."""
    sys.exit(guard("imgexp predict", main))
