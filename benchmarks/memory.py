"""Peak memory of a folder run with ``dataset.cache=memory`` against ``dataset.cache=<dir>``
(and no cache) on the same folder, so users can choose: each run is its own subprocess, its
peak resident memory read from the kernel (``ru_maxrss``: by the end of training, from a
callback; for the whole run, from ``os.wait4`` when it ends).

    python benchmarks/memory.py [--images 8000] [--size 320x240] [--epochs 2]
                                [--preset flowers_cnn] [--overrides "model=mlp ..."]

The default swaps the preset's CNN for a small MLP, so that what the memory holds is the data:
at batch 128 and 200x200 the CNN's activations alone take over a GiB (``--overrides ""``
measures the preset as it is).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import bench_dir, generate_jpegs, machine, print_table

HERE = Path(__file__).resolve().parent


def resident_mib() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_probe():
    """A callback (``_target_: __main__.memory_probe`` in the subprocess) recording each epoch's
    seconds, the resident memory when training starts and the peak when it ends."""
    import keras

    class MemoryProbe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            PROBE.update(start_mib=resident_mib(), epochs=[])

        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            PROBE["epochs"].append(time.perf_counter() - self.began)

        def on_train_end(self, logs=None):
            PROBE["train_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    return MemoryProbe()


PROBE: dict = {}


def child(overrides: list[str]) -> None:
    """In the subprocess: one run, then what the probe saw as the last line of stdout."""
    import imgexp

    imgexp.train(*overrides, "+trainer.callbacks.probe._target_=__main__.memory_probe")
    print(json.dumps(PROBE))


def measured(overrides: list[str]) -> dict:
    """The probe's figures of one run in a fresh process, plus ``peak_mib``: the whole run's
    peak resident memory (evaluation and model logging included)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *overrides]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, cwd=HERE)  # fmt: skip
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed with exit status {process.returncode}")
    return json.loads(output.strip().splitlines()[-1]) | {"peak_mib": usage.ru_maxrss / 1024}


def size_on_disk(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8000)
    parser.add_argument("--size", default="320x240", help="generated JPEG size, WxH")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--preset", default="flowers_cnn")
    parser.add_argument("--overrides", default="model=mlp model.hidden_units=[16]")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    root = generate_jpegs(bench_dir(f"jpeg-{width}x{height}-{args.images}"), args.images,
                          (width, height))  # fmt: skip
    cache_dir = bench_dir("memory-file-cache")
    shutil.rmtree(cache_dir)
    base = [f"experiment={args.preset}", f"dataset.data_dir={root}",
            f"trainer.epochs={args.epochs}", "trainer.verbose=0",
            *args.overrides.split()]  # fmt: skip
    print(f"hardware: {machine()}")
    runs = {
        "dataset.cache=null (decode every epoch)": ["dataset.cache=null"],
        "dataset.cache=memory (the default)": ["dataset.cache=memory"],
        "dataset.cache=<dir>, first run (writes the files)": [f"dataset.cache={cache_dir}"],
        "dataset.cache=<dir>, next run (reads them from epoch 1)": [f"dataset.cache={cache_dir}"],
    }
    rows = []
    for name, extra in runs.items():
        run = measured([*base, *extra])
        on_disk = size_on_disk(cache_dir) if cache_dir.exists() and "<dir>" in name else 0.0
        later = sorted(run["epochs"][1:]) or ["-"]
        rows.append([name, run["start_mib"], run["train_peak_mib"], run["peak_mib"],
                     run["epochs"][0], later[len(later) // 2], on_disk])  # fmt: skip
    print_table(f"experiment={args.preset} {args.overrides} on {args.images} generated JPEGs of "
                f"{args.size}, {args.epochs} epochs, one process per run",
                ["run", "RSS at training start MiB", "peak by the end of training MiB",
                 "peak of the run MiB", "epoch 1 s", "epochs 2+ s", "cache files MiB"],
                rows)  # fmt: skip
    print("RSS = resident memory; the peak of the run includes evaluation and model logging")


if __name__ == "__main__":
    main()
