"""Shared parts of the benchmarks: generated image folders, timing, table printing."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A throwaway imgexp home: runs and the folder-scan cache start cold in every benchmark (a
# benchmark's own subprocess may be handed one, $IMGEXP_BENCH_HOME, to start warm instead).
os.environ["IMGEXP_HOME"] = os.environ.get("IMGEXP_BENCH_HOME") or tempfile.mkdtemp(
    prefix="imgexp-bench-home-"
)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

T = TypeVar("T")


def generate_jpegs(root: Path, count: int, size: tuple[int, int], classes: int = 5) -> Path:
    """``count`` JPEGs of ``size`` (width, height) in ``classes`` class folders (kept between
    runs: the same folder is reused when it is already complete)."""
    marker = root / f".complete-{count}-{size[0]}x{size[1]}"
    if marker.exists():
        return root
    rng = np.random.default_rng(0)
    width, height = size
    base = np.stack(np.mgrid[0:height, 0:width], -1).sum(-1)
    for index in range(count):
        label = index % classes
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        # Photo-like content (smooth gradients plus noise), so JPEG sizes are realistic.
        noise = rng.integers(0, 60, (height, width, 3))
        pixels = (base[..., None] * (label + 1) // 3 + noise + index) % 256
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{index:05d}.jpg", quality=90)
    marker.touch()
    return root


def generate_pngs(root: Path, count: int, size: tuple[int, int], classes: int = 10) -> Path:
    """``count`` small grayscale PNGs of ``size`` (width, height) in ``classes`` class folders,
    MNIST-like (a folder where per-file costs, not decoding, dominate); kept between runs."""
    marker = root / f".complete-{count}-{size[0]}x{size[1]}"
    if marker.exists():
        return root
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0 : size[1], 0 : size[0]]
    for index in range(count):
        label = index % classes
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        noise = rng.integers(0, 40, rows.shape)
        pixels = (rows * (label + 1) + cols * 3 + noise) % 256
        Image.fromarray(pixels.astype(np.uint8), "L").save(folder / f"{index:05d}.png")
    marker.touch()
    return root


def bench_dir(name: str) -> Path:
    """A directory under the system temp dir for generated benchmark data."""
    path = Path(tempfile.gettempdir()) / "imgexp-bench" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def timed(function: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of one call of ``function`` (e.g. how many items it did)."""
    start = time.perf_counter()
    items = function()
    return time.perf_counter() - start, items


def count_batches(batches: Iterable) -> int:
    """Iterate a dataset of (images, labels) batches, returning the number of images."""
    total = 0
    for _, labels in batches:
        total += len(labels)
    return total


def machine() -> str:
    """One line describing the hardware the numbers come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores, load average {load:.2f} at start"


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """A Markdown table (pastes straight into benchmarks/README.md)."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [f"{cell:,.1f}" if isinstance(cell, float) else str(cell) for cell in row]
        print("| " + " | ".join(cells) + " |")


def epoch_timer_class():
    """A Keras callback recording each epoch's seconds (in ``EpochTimer.seconds``); built
    lazily so that importing this module does not import Keras."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            EpochTimer.seconds.append(time.perf_counter() - self.start)

    return EpochTimer


def EpochTimer(**kwargs):  # noqa: N802 - a Hydra `_target_` that returns the callback
    """``_target_: common.EpochTimer`` for imgexp's ``trainer.callbacks``."""
    timer = epoch_timer_class()
    globals()["LAST_TIMER"] = timer
    return timer(**kwargs)
