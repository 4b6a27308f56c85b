"""MNIST-format datasets (MNIST, Fashion-MNIST): the four standard idx .gz files, or keras'
single-file ``mnist.npz``."""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from imgexp.dataset import download, locate
from imgexp.dataset.arrays import ImageArrays

log = logging.getLogger(__name__)

FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# keras.datasets.mnist pins this SHA-256 for mnist.npz (11,490,434 bytes).
MNIST_NPZ = download.Remote(
    KERAS_ORIGIN + "mnist.npz",
    sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
)
# keras pins nothing for Fashion-MNIST: these are tensorflow-datasets' SHA-256s of Zalando's
# published files (url_checksums/fashion_mnist.txt), the same bytes (and sizes) keras' copy holds.
FASHION_FILES = (
    download.Remote(
        KERAS_ORIGIN + FILES["x_train"],
        sha256="3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ),
    download.Remote(
        KERAS_ORIGIN + FILES["y_train"],
        sha256="a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    download.Remote(
        KERAS_ORIGIN + FILES["x_test"],
        sha256="346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ),
    download.Remote(
        KERAS_ORIGIN + FILES["y_test"],
        sha256="67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
)


@dataclass(frozen=True)
class IdxSource:
    """What tells one MNIST-format dataset from another."""

    dirs: tuple[str, ...]  # usual directory names (ours, keras' cache)
    classes: tuple[str, ...]
    remotes: tuple[download.Remote, ...]  # what download=true fetches
    cache: str = ""  # where under keras' cache it goes ("": the cache itself, as keras does)
    npz: str | None = None  # keras' single-file layout, in its cache directory
    system_dir: str | None = None  # a distribution package's copy
    apt_hint: str = ""

    def download_target(self) -> Path:
        """What download=true leaves: the npz file, or the directory of the idx files."""
        cache = locate.keras_datasets_dir() / self.cache
        return cache / self.npz if self.npz else cache


MNIST = IdxSource(("mnist",), tuple(str(d) for d in range(10)), (MNIST_NPZ,), npz="mnist.npz")
FASHION_MNIST = IdxSource(
    ("fashion_mnist", "fashion-mnist"),
    tuple(FASHION_CLASSES),
    FASHION_FILES,
    cache="fashion-mnist",
    system_dir="/usr/share/datasets/fashion-mnist",
    apt_hint="On Debian/Ubuntu: apt-get install dataset-fashion-mnist.",
)


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


def idx_files(directory: Path) -> dict[str, Path] | None:
    """The four idx files (plain or .gz) in ``directory``, or None if any is missing."""
    found = {}
    for key, name in FILES.items():
        for option in (directory / name, directory / name.removesuffix(".gz")):
            if option.is_file():
                found[key] = option
                break
    return found if len(found) == len(FILES) else None


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """keras' ``mnist.npz`` (x_train, y_train, x_test, y_test), checked for its four arrays."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in FILES if key in archive.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read npz file ({error}); is it truncated?") from error
    missing = sorted(set(FILES) - set(arrays))
    if missing:
        raise ValueError(f"{path}: npz file lacks the arrays {missing}")
    return arrays


def find_source(bases: list[Path], npz: str | None) -> Path | None:
    """The first directory holding the four idx files, or the first ``npz`` file."""
    for base in bases:
        if base.is_file() and base.suffix == ".npz":
            return base
        if idx_files(base):
            return base
        if npz and (base / npz).is_file():
            return base / npz
    return None


def read_source(path: Path) -> dict[str, np.ndarray]:
    """All four arrays from an idx directory or an npz file."""
    if path.is_file():
        return read_npz(path)
    return {
        key: read_idx(file, IMAGES_MAGIC if key.startswith("x") else LABELS_MAGIC)
        for key, file in idx_files(path).items()
    }


def load_idx_dataset(cfg: DictConfig, source: IdxSource) -> ImageArrays:
    """Find the files (with download=true: fetch and verify them first) and read them."""
    extra = [source.system_dir] if source.system_dir else []
    bases = locate.search_dirs(cfg, source.dirs, extra)
    found = find_source(bases, source.npz)
    target = source.download_target()
    if cfg.get("download") and found not in (None, target):
        log.info("dataset.download=true: %s is already at %s; nothing downloaded", cfg.name, found)
    if cfg.get("download") and found in (None, target):
        for remote in source.remotes:
            download.ensure_file(
                remote,
                cfg,
                target if source.npz else target / remote.file,
                cfg.name,
                "put the four idx .gz files in a directory and pass dataset.data_dir=<it>",
            )
        found = find_source(bases, source.npz)
    if found is None:
        layout = "  <dir>/" + "\n  <dir>/".join(FILES.values())
        if source.npz:
            layout += f"\nor keras' single file <dir>/{source.npz}"
        raise locate.not_found(
            cfg,
            f"{cfg.name}: the idx files",
            bases,
            layout,
            f"Add dataset.download=true when online. {source.apt_hint}".strip(),
        )
    return ImageArrays(class_names=list(source.classes), source=str(found), **read_source(found))


def load_fashion_mnist(cfg: DictConfig) -> ImageArrays:
    """Fashion-MNIST, 60,000 train and 10,000 test images of 28x28, 10 clothing classes."""
    return load_idx_dataset(cfg, FASHION_MNIST)


def load_mnist(cfg: DictConfig) -> ImageArrays:
    """MNIST handwritten digits, 60,000 train and 10,000 test images of 28x28."""
    return load_idx_dataset(cfg, MNIST)
