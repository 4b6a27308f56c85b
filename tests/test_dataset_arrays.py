"""In-memory datasets: idx/npz/CIFAR reading, search order and errors, splits, class subsets,
and every array option loading through the CLI's code path (compose_config -> build_data)."""

from __future__ import annotations

import dataclasses
import gzip
import io
import pickle
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest
from helpers import write_idx
from omegaconf import OmegaConf

from imgexp.api import compose_config
from imgexp.dataset import cifar, idx, splits
from imgexp.dataset.build import build_data, select_classes

CONF = Path(__file__).resolve().parents[1] / "conf" / "dataset"
ARRAY_OPTIONS = {"digits", "fashion_mnist", "mnist", "cifar10", "synthetic"}
FOLDER_OPTIONS = {"image_folder", "chest_xray", "flowers", "caltech101"}  # test_dataset_folders


def dataset_cfg(**values) -> OmegaConf:
    return OmegaConf.create(
        {"name": "fashion_mnist", "data_dir": None, "download": False} | values
    )


def built(*overrides: str, batch_size: int = 16):
    """A DataBundle exactly as `imgexp <overrides>` would build it."""
    cfg = compose_config(*overrides)
    return build_data(cfg.dataset, batch_size, seed=0)


def write_mnist_npz(path: Path, n_train: int = 60, n_test: int = 20) -> Path:
    """keras' mnist.npz layout, with class-dependent brightness."""
    rng = np.random.default_rng(1)
    arrays = {}
    for split, count in (("train", n_train), ("test", n_test)):
        labels = np.arange(count) % 10
        arrays[f"x_{split}"] = rng.integers(0, 40, (count, 28, 28)) + labels[:, None, None] * 20
        arrays[f"x_{split}"] = arrays[f"x_{split}"].astype(np.uint8)
        arrays[f"y_{split}"] = labels.astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def cifar_batch(count: int, offset: int) -> bytes:
    """One CIFAR-10 python batch: a pickled dict of a (N, 3072) uint8 array and labels."""
    labels = [(offset + i) % 10 for i in range(count)]
    data = np.zeros((count, 3072), np.uint8)
    data[:, :1024] = np.array(labels, np.uint8)[:, None] * 25  # red plane encodes the label
    data[:, 1024:2048] = np.arange(offset, offset + count, dtype=np.uint8)[:, None]  # green: index
    return pickle.dumps({b"data": data, b"labels": labels, b"batch_label": b"x"}, protocol=2)


def write_cifar(directory: Path, per_batch: int = 6, archive: bool = True) -> Path:
    """A tiny cifar-10-python.tar.gz (or the extracted cifar-10-batches-py/)."""
    members = {f"data_batch_{n}": cifar_batch(per_batch, n * per_batch) for n in range(1, 6)}
    members["test_batch"] = cifar_batch(per_batch, 100)
    members["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in cifar.CLASSES]})
    directory.mkdir(parents=True, exist_ok=True)
    if not archive:
        (directory / cifar.BATCHES).mkdir()
        for name, raw in members.items():
            (directory / cifar.BATCHES / name).write_bytes(raw)
        return directory
    with tarfile.open(directory / cifar.ARCHIVE, "w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(f"{cifar.BATCHES}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return directory


def test_every_dataset_option_is_covered_by_a_loading_test() -> None:
    assert {path.stem for path in CONF.glob("*.yaml")} == ARRAY_OPTIONS | FOLDER_OPTIONS


def test_reads_the_four_files(tiny_idx_dir: Path) -> None:
    data = idx.load_fashion_mnist(dataset_cfg(data_dir=str(tiny_idx_dir)))
    assert data.x_train.shape == (200, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (50, 28, 28, 1)
    assert data.y_train[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert data.class_names[9] == "Ankle boot"
    assert data.source == str(tiny_idx_dir)


def test_fashion_mnist_option_first_5000_style_validation(tiny_idx_dir: Path) -> None:
    bundle = built("dataset=fashion_mnist", f"dataset.data_dir={tiny_idx_dir}",
                   "dataset.validation.size=50")  # fmt: skip
    assert bundle.counts == {"train": 150, "validation": 50, "test": 50}
    assert bundle.input_shape == (28, 28, 1) and bundle.source == str(tiny_idx_dir)
    # take=first: the first 50 training images (labels 0..9 repeating) are the validation set.
    labels = np.concatenate([y.numpy() for _, y in bundle.validation])
    assert labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_machine_data_dir_env_is_searched(tiny_idx_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("IMGEXP_DATA_DIR", str(tiny_idx_dir.parent))
    (tiny_idx_dir.parent / "fashion_mnist").symlink_to(tiny_idx_dir)
    assert idx.load_fashion_mnist(dataset_cfg()).x_train.shape[0] == 200


def test_mnist_option_reads_idx_files_and_keras_npz(tiny_idx_dir: Path, tmp_path: Path,
                                                    monkeypatch) -> None:  # fmt: skip
    from_idx = built("dataset=mnist", f"dataset.data_dir={tiny_idx_dir}")
    assert from_idx.class_names == [str(d) for d in range(10)]
    assert from_idx.counts == {"train": 180, "validation": 20, "test": 50}  # last 10%
    # keras' own download layout: $KERAS_HOME/datasets/mnist.npz, found with no data_dir.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    npz = write_mnist_npz(tmp_path / "keras" / "datasets" / "mnist.npz")
    from_npz = built("dataset=mnist", "dataset.validation.source=test")
    assert from_npz.source == str(npz)
    assert from_npz.counts == {"train": 60, "validation": 20, "test": 20}
    images, labels = next(iter(from_npz.test))
    assert images.shape[1:] == (28, 28, 1) and labels.numpy()[:3].tolist() == [0, 1, 2]


def test_missing_files_say_where_it_looked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    cfg = dataset_cfg(data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as info:
        idx.load_idx_dataset(cfg, dataclasses.replace(idx.FASHION_MNIST, system_dir=None))
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message and "dataset.data_dir" in message
    assert "train-images-idx3-ubyte.gz" in message and "IMGEXP_DATA_DIR" in message


@pytest.mark.parametrize("option", ["mnist", "cifar10", "flowers", "caltech101"])
def test_download_offline_fails_fast_with_advice(option: str, tmp_path: Path,
                                                 monkeypatch) -> None:  # fmt: skip
    """No network here: the reachability check fails at once and says what to do instead."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    attempts = []

    def offline(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    with pytest.raises(RuntimeError, match="cannot reach .*Network is unreachable") as info:
        built(f"dataset={option}", f"dataset.data_dir={tmp_path / 'empty'}",
              "dataset.download=true")  # fmt: skip
    assert len(attempts) == 1 and "dataset.data_dir=" in str(info.value)


def test_wrong_magic_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    write_idx(path, np.zeros(10), 2049)
    with pytest.raises(ValueError, match="magic number 2049.*2051"):
        idx.read_idx(path, idx.IMAGES_MAGIC)


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    header = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (10, 28, 28))
    with gzip.open(path, "wb") as handle:
        handle.write(header + bytes(100))
    with pytest.raises(ValueError, match="truncated"):
        idx.read_idx(path, idx.IMAGES_MAGIC)


@pytest.mark.parametrize("archive", [True, False], ids=["tar.gz", "extracted"])
def test_cifar10_option_reads_archive_or_extracted_batches(tmp_path: Path, archive: bool) -> None:
    write_cifar(tmp_path / "cifar", archive=archive)
    bundle = built("dataset=cifar10", f"dataset.data_dir={tmp_path / 'cifar'}",
                   "dataset.validation.size=6")  # fmt: skip
    assert bundle.counts == {"train": 24, "validation": 6, "test": 6}
    assert bundle.class_names[0] == "airplane" and bundle.input_shape == (32, 32, 3)
    images, labels = next(iter(bundle.validation))
    # take=last: the last 6 training images (indices 30..35, from data_batch_5); the pixel
    # layout (channel planes -> NHWC) is right when red encodes the label and green the index.
    assert images[:, 0, 0, 1].numpy().tolist() == list(range(30, 36))
    assert (images[:, 5, 7, 0].numpy() == labels.numpy() * 25).all()


def test_cifar_pickle_with_foreign_globals_is_refused(tmp_path: Path) -> None:
    evil = pickle.dumps({b"data": __import__("os").getcwd, b"labels": []})
    with pytest.raises(ValueError, match="posix.getcwd; refused|os.getcwd; refused"):
        cifar.read_batch(evil, "data_batch_1")


def test_truncated_cifar_archive_is_a_clear_error(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar")
    archive = tmp_path / "cifar" / cifar.ARCHIVE
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(ValueError, match="cannot read CIFAR-10"):
        cifar.read_cifar10(archive)


@pytest.mark.parametrize("take,expected_val", [("first", [0, 1, 2]), ("last", [7, 8, 9])])
def test_validation_first_and_last(take: str, expected_val: list[int]) -> None:
    kept, taken = splits.take_indices(10, 3, take, seed=0)
    assert taken.tolist() == expected_val
    assert sorted(kept.tolist() + taken.tolist()) == list(range(10))


def test_validation_random_is_seeded_and_disjoint() -> None:
    kept, taken = splits.take_indices(100, 20, "random", seed=3)
    again = splits.take_indices(100, 20, "random", seed=3)[1]
    assert taken.tolist() == again.tolist()
    assert not set(kept) & set(taken) and len(kept) + len(taken) == 100


def test_split_size_fraction_and_bad_sizes() -> None:
    assert splits.split_count(0.25, 200, "size") == 50
    assert splits.split_count(5000, 60000, "size") == 5000
    with pytest.raises(ValueError, match="size=70000"):
        splits.split_count(70000, 60000, "size")


def test_digits_holds_out_a_stratified_test_split() -> None:
    bundle = built("dataset=digits")
    assert sum(bundle.counts.values()) == 1797 and bundle.counts["test"] == round(0.2 * 1797)
    assert min(bundle.class_counts["test"].values()) >= 35  # every class, ~36 each


def test_synthetic_option_loads() -> None:
    assert built("dataset=synthetic").counts["test"] == 50


def test_class_subset_relabels_in_given_order() -> None:
    x = np.arange(6, dtype=np.uint8).reshape(6, 1, 1, 1)
    y = np.array([0, 1, 2, 0, 1, 2])
    x_train, y_train, _, y_test, names = select_classes(["c", "a"], ["a", "b", "c"], x, y, x, y)
    assert names == ["c", "a"]
    assert y_train.tolist() == [1, 0, 1, 0] and x_train.ravel().tolist() == [0, 2, 3, 5]
    with pytest.raises(ValueError, match=r"\['zzz'\] not found; available classes: \['a', 'b'"):
        select_classes(["zzz"], ["a", "b", "c"], x, y, x, y)
