"""MNIST-format datasets read from the four standard idx .gz files (Fashion-MNIST, MNIST)."""

from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from imgexp.dataset.arrays import ImageArrays
from imgexp.paths import data_home

FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Parse one idx(.gz) file, failing clearly on a wrong magic number or a short file."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: cannot read idx file ({error}); is it truncated?") from error
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an idx header")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"{path}: magic number {magic} is not the idx {expected_magic} this file should have "
            f"({'images' if expected_magic == IMAGES_MAGIC else 'labels'})"
        )
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise ValueError(
            f"{path}: holds {len(raw) - offset} data bytes, the header promises {expected} "
            f"(shape {dims}); the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def candidate_dirs(cfg: DictConfig, keras_subdir: str, system_dir: str | None) -> list[Path]:
    """Where to look, in order: dataset.data_dir, $IMGEXP_DATA_DIR, keras cache, system copy."""
    candidates = []
    if cfg.get("data_dir"):
        candidates.append(Path(cfg.data_dir).expanduser())
    if data_home():
        candidates += [Path(data_home()) / cfg.name, Path(data_home()) / keras_subdir]
    candidates.append(Path("~/.keras/datasets").expanduser() / keras_subdir)
    if system_dir:
        candidates.append(Path(system_dir))
    return candidates


def find_files(candidates: list[Path]) -> dict[str, Path] | None:
    """The first directory that holds all four files (plain or .gz)."""
    for directory in candidates:
        found = {}
        for key, name in FILES.items():
            for option in (directory / name, directory / name.removesuffix(".gz")):
                if option.is_file():
                    found[key] = option
                    break
        if len(found) == len(FILES):
            return found
    return None


def keras_download(name: str) -> None:
    """Fetch through keras (puts the .gz files in ~/.keras/datasets/<name>); fail fast offline."""
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(float(os.environ.get("IMGEXP_DOWNLOAD_TIMEOUT", "30")))
    try:
        getattr(keras.datasets, name).load_data()
    except Exception as error:  # noqa: BLE001 - any network failure gets the same advice
        raise RuntimeError(
            f"dataset.download=true: downloading {name} through keras failed ({error}). "
            "Check the network, or put the four idx .gz files in a directory and pass "
            "dataset.data_dir=<that directory>."
        ) from error
    finally:
        socket.setdefaulttimeout(previous)


def load_idx_dataset(
    cfg: DictConfig, keras_name: str, keras_subdir: str, system_dir: str | None, classes: list[str]
) -> ImageArrays:
    """Find (or, with download=true, fetch) the idx files and read them."""
    candidates = candidate_dirs(cfg, keras_subdir, system_dir)
    files = find_files(candidates)
    if files is None and cfg.get("download"):
        keras_download(keras_name)
        files = find_files(candidates)
    if files is None:
        looked = "\n  ".join(str(c) for c in candidates)
        raise FileNotFoundError(
            f"{cfg.name}: the four idx files ({', '.join(FILES.values())}) were not found. "
            f"Looked in:\n  {looked}\nPass dataset.data_dir=<dir holding them>, set "
            f"$IMGEXP_DATA_DIR, or add dataset.download=true when online."
            + ("\nOn Debian/Ubuntu: apt-get install dataset-fashion-mnist" if system_dir else "")
        )
    arrays = {
        key: read_idx(path, IMAGES_MAGIC if key.startswith("x") else LABELS_MAGIC)
        for key, path in files.items()
    }
    return ImageArrays(class_names=classes, source=str(files["x_train"].parent), **arrays)


def load_fashion_mnist(cfg: DictConfig) -> ImageArrays:
    """Fashion-MNIST, 60,000 train and 10,000 test images of 28x28, 10 clothing classes."""
    return load_idx_dataset(
        cfg, "fashion_mnist", "fashion-mnist", "/usr/share/datasets/fashion-mnist", FASHION_CLASSES
    )
