"""Run presets and (re)write the results table from the MLflow runs.

    python experiments/reproduce.py fashion_mnist_mlp flowers_cnn      # run, then tabulate
    python experiments/reproduce.py flowers_cnn --set trainer.epochs=5 \
        --set dataset.data_dir=/data/flowers                           # cut/pointed runs
    python experiments/reproduce.py --table-only                       # tabulate what exists

The table (preset, article figure, measured figure, hardware, epochs, wall time, command) goes
to experiments/RESULTS.md and stdout. Each preset's row comes from its latest FINISHED run in
the store (tag ``imgexp.preset``); the article figure is read from the preset's YAML header.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRESETS = REPO / "conf" / "experiment"
COLUMNS = ["preset", "article figure", "measured here", "hardware", "epochs", "wall time",
           "command"]  # fmt: skip


def article_figure(preset: str) -> str:
    """The 'Article figure:' (or 'Expected:') sentence of the preset's header."""
    header = (PRESETS / f"{preset}.yaml").read_text()
    match = re.search(r"(Article figure|Expected):\s*([^.;(]+(?:\.\d+[^.;(]*)?)", header)
    return match.group(2).strip().replace("\n#", "") if match else "-"


def row(client, run) -> list[str]:
    """One table row from an MLflow run."""
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    preset = tags.get("imgexp.preset", "?")
    planned = params.get("trainer.epochs", "?")
    done = len(client.get_metric_history(run.info.run_id, "loss"))
    epochs = f"{done}" + ("" if str(done) == planned else f" of {planned} (stopped early)")
    measured = f"{metrics.get('test_accuracy', float('nan')):.2%} test"
    if "val_accuracy" in metrics:
        measured += f" (val {metrics['val_accuracy']:.2%})"
    seconds = ((run.info.end_time or run.info.start_time) - run.info.start_time) / 1000
    wall = str(timedelta(seconds=round(seconds)))
    hardware = tags.get("imgexp.hardware") or tags.get("devices", "?")
    overrides = tags.get("imgexp.overrides", "")
    if "trainer.epochs=" in overrides:
        epochs += " (cut)"
    return [f"`{preset}`", article_figure(preset), measured, hardware, epochs, wall,
            f"`imgexp {overrides}`"]  # fmt: skip


def table(store_uri: str, presets: list[str] | None) -> str:
    """Markdown table of the latest finished run of every preset (or the given ones)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(
        experiments, "attributes.status = 'FINISHED'", order_by=["attributes.start_time DESC"]
    )
    latest: dict[str, object] = {}
    for run in runs:
        preset = run.data.tags.get("imgexp.preset")
        if preset and (not presets or preset in presets):
            latest.setdefault(preset, run)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(client, latest[p])) + " |" for p in sorted(latest)]
    return "\n".join(lines) + "\n"


def hardware_name() -> str:
    """CPU model and core count, plus the GPUs TensorFlow sees."""
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    gpus = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
            for g in tf.config.list_physical_devices("GPU")]  # fmt: skip
    return f"{cpu}, {os.cpu_count()} cores" + (f", {', '.join(gpus)}" if gpus else ", no GPU")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("presets", nargs="*", help="conf/experiment/<preset>.yaml names")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra override for every run (e.g. trainer.epochs=5)",
    )
    parser.add_argument("--table-only", action="store_true", help="only rewrite the table")
    parser.add_argument("--output", default=str(REPO / "experiments" / "RESULTS.md"))
    args = parser.parse_args(argv)  # fmt: skip
    unknown = [p for p in args.presets if not (PRESETS / f"{p}.yaml").is_file()]
    if unknown:
        known = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        parser.error(f"unknown preset(s) {unknown}; available: {known}")

    from mlflow.tracking import MlflowClient

    import imgexp
    from imgexp.api import compose_config

    store = compose_config().tracking.uri
    if not args.table_only:
        for preset in args.presets:
            result = imgexp.train(f"experiment={preset}", *args.set)
            print(f"{preset}: test accuracy {result.metrics.get('test_accuracy', 'n/a')}")
            MlflowClient(store).set_tag(result.run_id, "imgexp.hardware", hardware_name())
    text = table(store, args.presets or None)
    Path(args.output).write_text(
        "# Results (generated by experiments/reproduce.py from the MLflow store)\n\n" + text
    )
    print(text)


if __name__ == "__main__":
    main()
