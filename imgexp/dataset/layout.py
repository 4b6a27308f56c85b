"""Folder layouts: ``root/<class>/*`` or ``root/{train,val,test}/<class>/*``, class folders, and
which files in them are images."""

from __future__ import annotations

import os
from pathlib import Path

from imgexp.dataset.scan import IMAGE_EXTENSIONS
from imgexp.errors import ClassesNotFoundError

# Directory names of each split in the split layout (Kaggle and others vary).
SPLIT_NAMES = {
    "train": ("train", "training"),
    "validation": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}
SPLIT_LAYOUT = (
    "  <root>/train/<class>/*.jpg  (+ optional <root>/val/<class>/*, <root>/test/<class>/*)"
)
CLASS_LAYOUT = "  <root>/<class>/*.jpg  (one folder per class)"


def hidden(name: str) -> bool:
    """Dot-files and dot-folders (.DS_Store, .ipynb_checkpoints), and macOS' __MACOSX."""
    return name.startswith((".", "__"))


def split_dirs(root: Path) -> dict[str, Path]:
    """The split folders of a split-layout root (empty when ``root`` has no ``train/``)."""
    found = {}
    for split, names in SPLIT_NAMES.items():
        for name in names:
            if (root / name).is_dir():
                found[split] = root / name
                break
    return found if "train" in found else {}


def class_dirs(directory: Path) -> dict[str, Path]:
    """Class folders of ``directory`` by name, sorted (the label order when none is given)."""
    if not directory.is_dir():
        return {}
    return {
        entry.name: Path(entry.path)
        for entry in sorted(os.scandir(directory), key=lambda entry: entry.name)
        if entry.is_dir() and not hidden(entry.name)
    }


def is_split_root(path: Path) -> bool:
    return bool(split_dirs(path)) and bool(class_dirs(split_dirs(path)["train"]))


def is_class_root(path: Path) -> bool:
    """A folder of class folders (and not itself a split layout)."""
    return path.is_dir() and bool(class_dirs(path)) and not split_dirs(path)


def list_images(class_dir: Path) -> tuple[list[str], int]:
    """Image files under ``class_dir`` (recursively, sorted) and the count of other files
    (.DS_Store, notes.txt), which are ignored. Extensions are matched case-insensitively; the
    scan checks the content, so a PNG named .jpg or a WebP named .JPG is still read."""
    images, ignored = [], 0
    for directory, subdirs, names in os.walk(class_dir):
        subdirs[:] = sorted(name for name in subdirs if not hidden(name))
        for name in sorted(names):
            if not hidden(name) and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                images.append(os.path.join(directory, name))
            else:
                ignored += 1
    return images, ignored


def match_classes(
    available: dict[str, Path], wanted: list[str] | None, aliases: dict[str, str], where: Path
) -> list[tuple[str, Path]]:
    """(class name, folder) pairs: all folders, or the ``classes:`` subset in the given order.
    ``aliases`` maps a requested name to another folder name it may have on disk (Kaggle's
    ``rose`` for TensorFlow's ``roses``)."""
    if not wanted:
        return list(available.items())
    pairs, unknown = [], []
    for name in wanted:
        folder = name if name in available else aliases.get(name)
        if folder in available:
            pairs.append((name, available[folder]))
        else:
            unknown.append(name)
    if unknown:
        raise ClassesNotFoundError(
            f"dataset.classes: {unknown} not found in {where}; available classes: "
            f"{list(available)}"
        )
    return pairs
