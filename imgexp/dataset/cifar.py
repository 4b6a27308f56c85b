"""CIFAR-10 in its "python version" format: ``cifar-10-python.tar.gz`` or the extracted
``cifar-10-batches-py/`` (five ``data_batch_N`` pickles, ``test_batch``, ``batches.meta``)."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from imgexp.dataset import download, locate
from imgexp.dataset.arrays import ImageArrays

ARCHIVE = "cifar-10-python.tar.gz"
BATCHES = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{n}" for n in range(1, 6)]
CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# The SHA-256 that keras.datasets.cifar10 pins for this file (170,498,071 bytes).
REMOTE = download.Remote(
    ORIGIN, sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
)
MANUAL = f"get {ORIGIN} and pass dataset.data_dir=<the directory holding it>"
# Where a base directory may hold the batches: extracted, keras' cache layout, or the archive.
SUBDIRS = [BATCHES, f"{BATCHES}-target/{BATCHES}", ""]
# The only globals the CIFAR pickles need: numpy arrays. Anything else is refused, so a
# tampered batch file cannot run code when it is unpickled.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


class BatchUnpickler(pickle.Unpickler):
    """Unpickles dicts of bytes, lists and numpy arrays only."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"CIFAR batch refers to {module}.{name}; refused")
        return super().find_class(module, name)


def read_batch(raw: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch's images as uint8 NHWC and its labels."""
    try:
        batch = BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{name}: not a readable CIFAR-10 batch ({error})") from error
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(
            f"{name}: expected {len(labels)} rows of 3072 pixels, got shape {data.shape}"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read_members(path: Path, names: list[str]) -> dict[str, bytes]:
    """The named batch files from an extracted directory or from the .tar.gz archive."""
    if path.is_dir():
        return {name: (path / name).read_bytes() for name in names}
    with tarfile.open(path, "r:gz") as archive:
        members = {Path(member.name).name: member for member in archive.getmembers()}
        missing = [name for name in names if name not in members]
        if missing:
            raise FileNotFoundError(f"{path} has no {BATCHES}/{missing[0]}")
        return {name: archive.extractfile(members[name]).read() for name in names}


def is_cifar(path: Path) -> bool:
    """An extracted batches directory, or the archive (the archive inside a directory too)."""
    if path.is_dir():
        return (path / "data_batch_1").is_file() or (path / ARCHIVE).is_file()
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz"))


def read_cifar10(path: Path) -> ImageArrays:
    """All six batches from ``path`` (a batches directory or the archive)."""
    if path.is_dir() and not (path / "data_batch_1").is_file():
        path = path / ARCHIVE
    try:
        raw = read_members(path, [*TRAIN_BATCHES, "test_batch"])
    except (OSError, tarfile.TarError, EOFError) as error:
        raise ValueError(f"{path}: cannot read CIFAR-10 ({error}); is it truncated?") from error
    train = [read_batch(raw[name], f"{path}/{name}") for name in TRAIN_BATCHES]
    x_test, y_test = read_batch(raw["test_batch"], f"{path}/test_batch")
    return ImageArrays(
        x_train=np.concatenate([x for x, _ in train]),
        y_train=np.concatenate([y for _, y in train]),
        x_test=x_test,
        y_test=y_test,
        class_names=list(CLASSES),
        source=str(path),
    )


def load_cifar10(cfg: DictConfig) -> ImageArrays:
    """CIFAR-10: 50,000 train and 10,000 test colour images of 32x32, 10 classes."""
    bases = locate.search_dirs(cfg, ["cifar10", "cifar-10"])
    found = locate.find_first(bases, SUBDIRS, is_cifar)
    # download=true keeps the verified archive (read as it is) in <keras cache>/cifar10/.
    cached = locate.keras_datasets_dir() / "cifar10" / ARCHIVE
    if cfg.get("download") and found in (None, cached, cached.parent):
        download.ensure_file(REMOTE, cfg, cached, "CIFAR-10", MANUAL)
        found = locate.find_first(bases, SUBDIRS, is_cifar)
    if found is None:
        layout = (
            f"  <dir>/{ARCHIVE}\nor <dir>/{BATCHES}/data_batch_1..5, test_batch "
            "(the archive extracted)"
        )
        raise locate.not_found(
            cfg,
            "cifar10: the CIFAR-10 python batches",
            bases,
            layout,
            "Add dataset.download=true when online.",
        )
    return read_cifar10(found)
