"""A new folder's first epoch, set-up included: images/s of imgexp's folder pipeline side by side
with Keras 2's ``ImageDataGenerator.flow_from_directory`` (``tf_keras``, the ``bench`` extra) and
Keras 3's ``image_dataset_from_directory``, on generated folders of three shapes.

    python benchmarks/input_pipeline.py [--shapes jpeg320 photo1280 tinypng] [--rounds 2]
                                        [--scale 1.0] [--batch 64] [--before <git revision>]

Every measurement is a fresh process, as a user's run is: its imports are done first, untimed;
then the set-up is timed (imgexp: composing the config, the folder scan with its checks and
sha256 of every file, splits, digest, pipelines; Keras 2 and 3: listing the folder), then two
passes. The first epoch = set-up + pass 1. imgexp runs with the in-memory cache (the default)
on a cold $IMGEXP_HOME (a folder it has never seen), then again on that home (a sweep's next
job: the scan comes from its cache), and with ``dataset.cache=null`` (nothing held in memory;
the pipeline decodes each epoch). ``--before`` adds imgexp as it was at a git revision
(``git archive``, read only). Rounds alternate the order; each figure is the median of the
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
from importlib import metadata
from pathlib import Path

from common import bench_dir, count_batches, generate_jpegs, generate_pngs, machine, print_table

HERE = Path(__file__).resolve().parent
PACKAGES = ("tensorflow", "keras", "tf-keras", "pillow")
IMGEXP_ARGS = ["dataset=image_folder", "dataset.validation.source=none", "dataset.test_size=10"]
# row -> (worker, extra imgexp overrides); "later" reuses the previous row's home
ROWS = {
    "imgexp, a folder it has never seen": ("imgexp", []),
    "imgexp, the same folder again (scan cached)": ("imgexp", []),
    "imgexp before (--before), a new folder": ("before", []),
    "imgexp, dataset.cache=null, a new folder": ("imgexp", ["dataset.cache=null"]),
    "Keras 3 image_dataset_from_directory": ("keras3", []),
    "Keras 2 ImageDataGenerator.flow_from_directory": ("idg", []),
}
FIRST, LATER, BEFORE, _, KERAS3, IDG = ROWS


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


def build(name: str, root: str, target: int, batch: int, extra: list[str]):
    """What each contender does before its first batch (imports done already)."""
    if name in ("imgexp", "before"):
        from imgexp.api import compose_config
        from imgexp.dataset.build import build_data

        size = f"dataset.image_size=[{target},{target}]"
        cfg = compose_config(*IMGEXP_ARGS, f"dataset.data_dir={root}", size, *extra)
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


def worker(name: str, root: str, target: int, batch: int, extra: list[str]) -> None:
    """In the subprocess: import, then time the set-up and two passes; one JSON line out."""
    import keras  # noqa: F401 - imports are not what is measured
    import tensorflow  # noqa: F401

    if name in ("imgexp", "before"):
        import sklearn.model_selection  # noqa: F401 - imported by the first split

        import imgexp.api  # noqa: F401
        import imgexp.dataset.build  # noqa: F401
        import imgexp.runner  # noqa: F401 - as `imgexp` does (and so its gc.freeze)
    elif name == "idg":
        import tf_keras.preprocessing.image  # noqa: F401
    start, cpu = time.perf_counter(), time.process_time()
    data = build(name, root, target, batch, extra)
    setup = time.perf_counter() - start
    begin = time.perf_counter()
    count = one_pass(data)
    first, cpu = time.perf_counter() - begin, time.process_time() - cpu
    begin = time.perf_counter()
    one_pass(data)
    second = time.perf_counter() - begin
    print(json.dumps({"setup": setup, "passes": [first, second], "count": count, "cpu": cpu}))


def touch_memory(megabytes: int = 256) -> None:
    """In a subprocess: seconds to allocate and first write ``megabytes`` (what an in-memory
    cache of decoded images costs before any decoding, on this machine, now)."""
    import numpy as np

    start = time.perf_counter()
    np.ones(megabytes << 20, np.uint8)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def run_worker(args: list[str], env: dict[str, str]) -> dict:
    command = [sys.executable, __file__, "--worker", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE, env=env)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_shape(shape: Shape, args: argparse.Namespace, before: str | None) -> dict:
    """Every row ``args.rounds`` times, the order reversed every other round, each in a fresh
    $IMGEXP_HOME (the later run's warmed by an untimed first run), plus the memory probe."""
    root, _ = shape.folder(args.scale)
    rows = [row for row in ROWS if before or row != BEFORE]
    figures: dict[str, list[dict]] = {row: [] for row in [*rows, "memory"]}
    for round_ in range(args.rounds):
        figures["memory"].append(run_worker(["memory"], dict(os.environ)))
        for row in rows if round_ % 2 == 0 else rows[::-1]:
            name, extra = ROWS[row]
            home = tempfile.mkdtemp(prefix="imgexp-bench-home-")
            env = dict(os.environ, IMGEXP_BENCH_HOME=home, TF_CPP_MIN_LOG_LEVEL="3")
            if name == "before":
                env["PYTHONPATH"] = before
            job = [name, str(root), str(shape.target), str(args.batch), *extra]
            if row == LATER:
                run_worker(job, env)  # the first run on this home, untimed
            figures[row].append(run_worker(job, env))
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


def checkout(revision: str) -> str:
    """imgexp (and its conf/, as the package ``imgexp.conf``) at ``revision``, extracted with
    ``git archive`` into a temporary folder (the repository is only read)."""
    folder = Path(tempfile.mkdtemp(prefix="imgexp-before-"))
    archive = subprocess.run(["git", "archive", revision, "imgexp", "conf"], cwd=HERE.parent,
                             capture_output=True, check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "conf").rename(folder / "imgexp" / "conf")
    return str(folder)


def report(key: str, shape: Shape, args: argparse.Namespace, figures: dict) -> list[str]:
    """One shape's table; returns its summary row."""
    count = figures[FIRST][0]["count"]
    memory = statistics.median(probe["seconds"] for probe in figures.pop("memory"))
    found = {row: rates(runs) for row, runs in figures.items()}
    idg, keras3 = found[IDG]["epoch"], found[KERAS3]["epoch"]
    rows = [[row, f"{r['setup']:.2f}", r["epoch"], f"{r['epoch'] / idg:.2f}x",
             f"{r['epoch'] / keras3:.2f}x", r["pass1"], r["pass2"], f"{r['cpu']:.2f}"]
            for row, r in found.items()]  # fmt: skip
    print_table(
        f"{key}: {shape.what} ({count:,} in the training split), batch {args.batch}, median of "
        f"{args.rounds} rounds; a fresh process's first 256 MB of memory took {memory:.2f} s",
        ["pipeline", "set-up s", "first epoch img/s (set-up incl.)", "vs IDG", "vs Keras 3",
         "pass 1 alone img/s", "pass 2 img/s", "CPU ms/img, epoch 1"],
        rows,
    )  # fmt: skip
    first, later = found[FIRST]["epoch"], found[LATER]["epoch"]
    return [key, f"{first / idg:.2f}x", f"{first / keras3:.2f}x", f"{later / idg:.2f}x",
            f"{later / keras3:.2f}x"]  # fmt: skip


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        if sys.argv[2] == "memory":
            touch_memory()
            return
        name, root, target, batch, *extra = sys.argv[2:]
        worker(name, root, int(target), int(batch), extra)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the images")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--before", help="also measure imgexp at this git revision")
    args = parser.parse_args()
    before = checkout(args.before) if args.before else None
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in PACKAGES)
    print(f"hardware: {machine()}; Python {sys.version.split()[0]}, {versions}")
    summary = []
    for key in args.shapes:
        shape = SHAPES[key]
        summary.append(report(key, shape, args, measure_shape(shape, args, before)))
    print_table(
        f"imgexp's first epoch, set-up included, against the others (load average at the end "
        f"{os.getloadavg()[0]:.2f})",
        ["shape", "new folder vs IDG", "new folder vs Keras 3", "later run vs IDG",
         "later run vs Keras 3"],
        summary,
    )  # fmt: skip


if __name__ == "__main__":
    main()
