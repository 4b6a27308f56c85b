"""In-memory datasets: idx reading, search order and errors, splits, class subsets."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from helpers import write_idx
from omegaconf import OmegaConf

from imgexp.dataset import idx, splits
from imgexp.dataset.build import select_classes


def dataset_cfg(**values) -> OmegaConf:
    return OmegaConf.create(
        {"name": "fashion_mnist", "data_dir": None, "download": False} | values
    )


def test_reads_the_four_files(tiny_idx_dir: Path) -> None:
    data = idx.load_fashion_mnist(dataset_cfg(data_dir=str(tiny_idx_dir)))
    assert data.x_train.shape == (200, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (50, 28, 28, 1)
    assert data.y_train[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert data.class_names[9] == "Ankle boot"
    assert data.source == str(tiny_idx_dir)


def test_machine_data_dir_env_is_searched(tiny_idx_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("IMGEXP_DATA_DIR", str(tiny_idx_dir.parent))
    (tiny_idx_dir.parent / "fashion_mnist").symlink_to(tiny_idx_dir)
    assert idx.load_fashion_mnist(dataset_cfg()).x_train.shape[0] == 200


def test_missing_files_say_where_it_looked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(idx, "load_fashion_mnist", idx.load_fashion_mnist)
    cfg = dataset_cfg(data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as info:
        idx.load_idx_dataset(cfg, "fashion_mnist", "fashion-mnist", None, idx.FASHION_CLASSES)
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message and "dataset.data_dir" in message
    assert "train-images-idx3-ubyte.gz" in message


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


def test_class_subset_relabels_in_given_order() -> None:
    x = np.arange(6, dtype=np.uint8).reshape(6, 1, 1, 1)
    y = np.array([0, 1, 2, 0, 1, 2])
    x_train, y_train, _, y_test, names = select_classes(["c", "a"], ["a", "b", "c"], x, y, x, y)
    assert names == ["c", "a"]
    assert y_train.tolist() == [1, 0, 1, 0] and x_train.ravel().tolist() == [0, 2, 3, 5]
    with pytest.raises(ValueError, match=r"\['zzz'\] not found; available classes: \['a', 'b'"):
        select_classes(["zzz"], ["a", "b", "c"], x, y, x, y)
