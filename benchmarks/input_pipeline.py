"""A new folder's first epoch, set-up included: images/s of imgexp's folder pipeline side by side
with Keras 2's ``ImageDataGenerator.flow_from_directory`` (``tf_keras``, the ``bench`` extra) and
Keras 3's ``image_dataset_from_directory``, on generated folders of three shapes.

    python benchmarks/input_pipeline.py [--shapes jpeg320 photo1280 tinypng] [--rounds 2]
                                        [--scale 1.0] [--batch 64]

Every measurement is a fresh process, as a user's run is: its imports are done first, untimed;
then the set-up is timed (imgexp: composing the config, the folder scan with its checks and
sha256 of every file, splits, digest, pipelines; Keras 2 and 3: listing the folder), then two
passes. The first epoch = set-up + pass 1. imgexp runs twice per round: first on a cold
$IMGEXP_HOME (a folder it has never seen), then again on the same home (a sweep's next job:
the scan comes from its cache). Rounds alternate the order; each figure is the median of the
rounds, and the ratios compare figures of this one invocation only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import bench_dir, count_batches, generate_jpegs, generate_pngs, machine, print_table

HERE = Path(__file__).resolve().parent
CONTENDERS = ("imgexp", "keras3", "idg")


@dataclass(frozen=True)
class Shape:
    what: str
    images: int
    size: tuple[int, int]  # width, height of the generated files
    target: int  # square size read at
    kind: str = "jpeg"

    def folder(self, scale: float) -> tuple[Path, int]:
        count = max(20, int(self.images * scale))
        width, height = self.size
        root = bench_dir(f"{self.kind}-{width}x{height}-{count}")
        make = generate_pngs if self.kind == "png" else generate_jpegs
        return make(root, count, self.size), count


SHAPES = {
    "jpeg320": Shape("JPEGs of 320x240 read at 200x200", 2000, (320, 240), 200),
    "photo1280": Shape("JPEGs of 1280x960 read at 200x200", 500, (1280, 960), 200),
    "tinypng": Shape("grayscale PNGs of 28x28 read at 28x28", 10000, (28, 28), 28, "png"),
}


def build(name: str, root: str, target: int, batch: int):
    """What each contender does before its first batch (imports done already)."""
    if name == "imgexp":
        from imgexp.api import compose_config
        from imgexp.dataset.build import build_data

        cfg = compose_config(
            "dataset=image_folder", f"dataset.data_dir={root}",
            f"dataset.image_size=[{target},{target}]", "dataset.validation.source=none",
            "dataset.test_size=10",
        )  # fmt: skip
        return build_data(cfg.dataset, batch, seed=0).train
    if name == "keras3":
        import keras
        import tensorflow as tf

        return keras.utils.image_dataset_from_directory(
            root, image_size=(target, target), batch_size=batch, seed=0, verbose=False
        ).prefetch(tf.data.AUTOTUNE)
    # "Beginner's guide to CNNs with TensorFlow's Keras API" and "A single function to
    # streamline image classification with Keras" (links in experiments/README.md).
    from tf_keras.preprocessing.image import ImageDataGenerator

    return ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        root, target_size=(target, target), batch_size=batch, class_mode="sparse",
        shuffle=True, seed=0,
    )  # fmt: skip


def one_pass(data) -> int:
    """Images in one epoch of a tf.data dataset or of a Keras 2 iterator (which never ends)."""
    if not hasattr(data, "next"):
        return count_batches(data)
    return sum(len(next(data)[1]) for _ in range(len(data)))


def worker(name: str, root: str, target: int, batch: int) -> None:
    """In the subprocess: import, then time the set-up and two passes; one JSON line out."""
    import keras  # noqa: F401 - imports are not what is measured
    import tensorflow  # noqa: F401

    if name == "imgexp":
        import sklearn.model_selection  # noqa: F401 - imported by the first split

        import imgexp.api  # noqa: F401
        import imgexp.dataset.build  # noqa: F401
    elif name == "idg":
        import tf_keras.preprocessing.image  # noqa: F401
    start, cpu = time.perf_counter(), time.process_time()
    data = build(name, root, target, batch)
    setup = time.perf_counter() - start
    begin = time.perf_counter()
    count = one_pass(data)
    first, cpu = time.perf_counter() - begin, time.process_time() - cpu
    begin = time.perf_counter()
    one_pass(data)
    second = time.perf_counter() - begin
    print(json.dumps({"setup": setup, "passes": [first, second], "count": count, "cpu": cpu}))


def measure(name: str, root: Path, target: int, batch: int, home: str) -> dict:
    """One contender's figures, from a fresh process (``home``: imgexp's $IMGEXP_HOME)."""
    command = [sys.executable, __file__, "--worker", name, str(root), str(target), str(batch)]
    env = dict(os.environ, IMGEXP_BENCH_HOME=home, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE, env=env)
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_shape(shape: Shape, scale: float, rounds: int, batch: int) -> dict[str, list[dict]]:
    """Every contender ``rounds`` times, in alternating orders; imgexp's later run follows its
    first run on the same (then warm) home."""
    root, _ = shape.folder(scale)
    figures: dict[str, list[dict]] = {"imgexp, first run": [], "imgexp, later run": []}
    figures |= {name: [] for name in CONTENDERS[1:]}
    for round_ in range(rounds):
        order = CONTENDERS if round_ % 2 == 0 else CONTENDERS[::-1]
        for name in order:
            home = tempfile.mkdtemp(prefix="imgexp-bench-home-")
            if name == "imgexp":
                figures["imgexp, first run"].append(measure(name, root, shape.target, batch, home))
                figures["imgexp, later run"].append(measure(name, root, shape.target, batch, home))
            else:
                figures[name].append(measure(name, root, shape.target, batch, home))
    return figures


def rates(runs: list[dict]) -> dict[str, float]:
    """Medians over the rounds: set-up s, first epoch img/s (set-up included), pass 1 and pass 2
    img/s, CPU ms per image of the first epoch (all threads)."""
    median = statistics.median
    return {
        "setup": median(r["setup"] for r in runs),
        "epoch": median(r["count"] / (r["setup"] + r["passes"][0]) for r in runs),
        "pass1": median(r["count"] / r["passes"][0] for r in runs),
        "pass2": median(r["count"] / r["passes"][1] for r in runs),
        "cpu": median(1000 * r["cpu"] / r["count"] for r in runs),
    }


LABELS = {
    "imgexp, first run": "imgexp, a folder it has never seen",
    "imgexp, later run": "imgexp, the same folder again (scan cached)",
    "keras3": "Keras 3 image_dataset_from_directory",
    "idg": "Keras 2 ImageDataGenerator.flow_from_directory",
}


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        name, root, target, batch = sys.argv[2:6]
        worker(name, root, int(target), int(batch))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the images")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    import keras
    import tensorflow as tf

    print(f"hardware: {machine()}; TF {tf.__version__}, Keras {keras.__version__}")
    summary = []
    for key in args.shapes:
        shape = SHAPES[key]
        _, count = shape.folder(args.scale)
        found = {name: rates(runs) for name, runs in
                 measure_shape(shape, args.scale, args.rounds, args.batch).items()}  # fmt: skip
        idg, keras3 = found["idg"]["epoch"], found["keras3"]["epoch"]
        rows = [[LABELS[name], f"{r['setup']:.2f}", r["epoch"], f"{r['epoch'] / idg:.2f}x",
                 f"{r['epoch'] / keras3:.2f}x", r["pass1"], r["pass2"], f"{r['cpu']:.2f}"]
                for name, r in found.items()]  # fmt: skip
        print_table(
            f"{key}: {count:,} {shape.what}, batch {args.batch}, median of {args.rounds} rounds",
            ["pipeline", "set-up s", "first epoch img/s (set-up incl.)", "vs IDG",
             "vs Keras 3", "pass 1 alone img/s", "pass 2 img/s", "CPU ms/img, epoch 1"],
            rows,
        )  # fmt: skip
        first, later = found["imgexp, first run"]["epoch"], found["imgexp, later run"]["epoch"]
        summary.append([f"{key} ({count:,})", f"{first / idg:.2f}x", f"{first / keras3:.2f}x",
                        f"{later / idg:.2f}x", f"{later / keras3:.2f}x"])  # fmt: skip
    print_table(
        f"imgexp's first epoch, set-up included, against the others (load average at the end "
        f"{os.getloadavg()[0]:.2f})",
        ["shape", "new folder vs IDG", "new folder vs Keras 3", "later run vs IDG",
         "later run vs Keras 3"],
        summary,
    )  # fmt: skip


if __name__ == "__main__":
    main()
