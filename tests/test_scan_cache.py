"""The scan of a folder is remembered: a later run checks only new or changed files (and,
without the in-memory cache, reads no other), gets the same results as a full scan, and a
broken cache file only costs a rescan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import full_scan
from PIL import Image

from imgexp.dataset import scan, scan_cache


def write_images(root: Path, count: int) -> list[str]:
    (root / "cls").mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = root / "cls" / f"{index}.png"
        Image.new("RGB", (8 + index, 6), (index * 20 % 256, 0, 0)).save(path)
        paths.append(str(path))
    return paths


def check_only(paths: list[str], root: Path) -> list[scan.Result]:
    """The scan as a run without the in-memory cache makes it (pixels not kept)."""
    results, images = scan_cache.decode_folder(paths, root, (6, 8), 3, keep=False)
    assert images is None
    return results


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the scan really checks (the real check, counted)."""
    opened: list[str] = []
    real = scan.read_checked

    def counting(path: str):
        opened.append(path)
        return real(path)

    monkeypatch.setattr(scan, "read_checked", counting)
    return opened


def test_a_second_scan_reads_only_what_changed(
    tmp_path: Path, isolated_home: Path, reads: list[str]
) -> None:
    root = tmp_path / "data"
    paths = write_images(root, 5)
    broken = root / "cls" / "broken.png"
    broken.write_bytes(b"not an image")
    paths.append(str(broken))

    first = check_only(paths, root)
    assert len(reads) == 6 and isinstance(first[-1], scan.SkippedFile)
    assert scan_cache.cache_file(root).is_relative_to(isolated_home)

    reads.clear()
    assert check_only(paths, root) == first  # all from the cache
    assert reads == []

    Image.new("RGB", (9, 9), (0, 255, 0)).save(broken, format="PNG")  # repaired
    os.utime(broken, ns=(1, 1))  # a different mtime even on coarse clocks
    new = write_images(root / "more", 1)
    third = check_only(paths + new, root)
    assert sorted(reads) == sorted([str(broken), *new])
    assert third == full_scan(paths + new)  # identical to a full scan
    assert isinstance(third[5], scan.ImageInfo) and third[5].width == 9


def test_a_broken_cache_only_costs_a_rescan(
    tmp_path: Path, isolated_home: Path, reads: list[str]
) -> None:
    root = tmp_path / "data"
    paths = write_images(root, 3)
    expected = check_only(paths, root)
    scan_cache.cache_file(root).write_text("{half a json")
    reads.clear()
    assert check_only(paths, root) == expected
    assert len(reads) == 3


def test_the_in_memory_scan_decodes_all_and_checks_only_what_changed(
    tmp_path: Path, isolated_home: Path, reads: list[str]
) -> None:
    """With ``keep`` (``dataset.cache=memory``) every file is read and decoded each run (it
    fills the in-memory cache), but only new or changed files are checked (PIL, sha256)."""
    root = tmp_path / "data"
    paths = write_images(root, 4)
    first, pixels = scan_cache.decode_folder(paths, root, (6, 8), 3, keep=True)
    assert sorted(reads) == sorted(paths) and pixels.shape == (4, 6, 8, 3)
    reads.clear()
    Image.new("RGB", (5, 5), (0, 0, 255)).save(paths[2])  # changed: another size
    again, pixels = scan_cache.decode_folder(paths, root, (6, 8), 3, keep=True)
    assert reads == [paths[2]] and again == full_scan(paths)
    assert again[2].width == 5 and (pixels[2] == (0, 0, 255)).all()
    assert (pixels[1] == (20, 0, 0)).all()  # write_images: file 1 is red 20
