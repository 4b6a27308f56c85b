"""Peak memory of a folder run with ``dataset.cache=memory`` against ``dataset.cache=<dir>``
(and no cache) on the same folder, so users can choose: each run is its own subprocess, its
peak resident memory read from the kernel when it ends (``os.wait4``'s ``ru_maxrss``).

    python benchmarks/memory.py [--images 2000] [--size 320x240] [--epochs 2]
                                [--preset flowers_cnn]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import bench_dir, generate_jpegs, machine, print_table

HERE = Path(__file__).resolve().parent


def child(overrides: list[str]) -> None:
    """In the subprocess: one run, then its epoch seconds as the last line of stdout."""
    import common
    import imgexp

    imgexp.train(*overrides, "+trainer.callbacks.timer._target_=common.EpochTimer")
    print(json.dumps(common.LAST_TIMER.seconds))


def measured(overrides: list[str]) -> tuple[float, list[float]]:
    """(peak RSS in MiB, epoch seconds) of one run in a fresh process."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *overrides]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, cwd=HERE)  # fmt: skip
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed with exit status {process.returncode}")
    return usage.ru_maxrss / 1024, json.loads(output.strip().splitlines()[-1])  # Linux: KiB


def size_on_disk(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", default="320x240", help="generated JPEG size, WxH")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--preset", default="flowers_cnn")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    root = generate_jpegs(bench_dir(f"jpeg-{width}x{height}-{args.images}"), args.images,
                          (width, height))  # fmt: skip
    cache_dir = bench_dir("memory-file-cache")
    shutil.rmtree(cache_dir)
    base = [f"experiment={args.preset}", f"dataset.data_dir={root}",
            f"trainer.epochs={args.epochs}", "trainer.verbose=0"]  # fmt: skip
    print(f"hardware: {machine()}")
    runs = {
        "dataset.cache=null (decode every epoch)": ["dataset.cache=null"],
        "dataset.cache=memory (the default)": ["dataset.cache=memory"],
        "dataset.cache=<dir>, first run (writes the files)": [f"dataset.cache={cache_dir}"],
        "dataset.cache=<dir>, next run (reads them from epoch 1)": [f"dataset.cache={cache_dir}"],
    }
    rows = []
    for name, extra in runs.items():
        peak, seconds = measured([*base, *extra])
        on_disk = size_on_disk(cache_dir) if cache_dir.exists() and "<dir>" in name else 0.0
        later = sorted(seconds[1:])[len(seconds[1:]) // 2] if seconds[1:] else float("nan")
        rows.append([name, peak, seconds[0], later, on_disk])
    print_table(f"experiment={args.preset} on {args.images} generated JPEGs of {args.size}, "
                f"{args.epochs} epochs, one process per run (peak RSS from the kernel)",
                ["run", "peak RSS MiB", "epoch 1 s", "epochs 2+ s (median)", "cache files MiB"],
                rows)  # fmt: skip


if __name__ == "__main__":
    main()
