"""Folder datasets (chest X-ray, flowers, Caltech-101, any ``image_folder``): find the root,
list the class folders, scan every image, and hand the file lists to `build_data`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from imgexp.dataset import decode, layout, locate, scan_cache
from imgexp.dataset.files import FileTable, ImageFiles, SkippedFile
from imgexp.dataset.folder_sources import (
    CALTECH101,
    CHEST_XRAY,
    FLOWERS,
    IMAGE_FOLDER,
    FolderSource,
)
from imgexp.dataset.scan import ImageInfo, Result
from imgexp.errors import ConfigError

log = logging.getLogger(__name__)


def accepts(source: FolderSource) -> Callable[[Path], bool]:
    """Whether a candidate directory has the source's layout."""
    if source.split_layout is True:
        return layout.is_split_root
    if source.split_layout is False:
        return layout.is_class_root
    return lambda path: layout.is_split_root(path) or layout.is_class_root(path)


def find_root(cfg: DictConfig, source: FolderSource) -> Path:
    """The dataset's root folder, downloading first when asked and possible."""
    if source.dirs:
        bases = locate.search_dirs(cfg, source.dirs, generic=False)
    elif cfg.get("data_dir"):
        bases = [Path(str(cfg.data_dir)).expanduser()]
    else:
        raise ConfigError(
            f"dataset={cfg.name} needs dataset.data_dir=<root>, a folder laid out as\n"
            f"{layout.CLASS_LAYOUT}\nor\n{layout.SPLIT_LAYOUT}"
        )
    root = locate.find_first(bases, source.subdirs, accepts(source))
    if cfg.get("download") and source.fetch is not None and source.fetch(cfg, root):
        root = locate.find_first(bases, source.subdirs, accepts(source))
    if root is None:
        expected = {True: layout.SPLIT_LAYOUT, False: layout.CLASS_LAYOUT}.get(
            source.split_layout, f"{layout.CLASS_LAYOUT}\nor\n{layout.SPLIT_LAYOUT}"
        )
        if cfg.get("download") and source.fetch is None:
            expected += f"\n(dataset={cfg.name} cannot be downloaded automatically.)"
        raise locate.not_found(cfg, f"{cfg.name}: image folder", bases, expected, source.advice)
    return root.resolve()


def list_splits(
    root: Path, source: FolderSource, wanted: list[str] | None
) -> tuple[list[str], dict[str, dict[int, list[str]]], int]:
    """Class names and, per split and class index, the image files; plus the ignored count."""
    dirs = layout.split_dirs(root) or {"train": root}
    available = {
        name: path
        for name, path in layout.class_dirs(dirs["train"]).items()
        if wanted or name not in source.exclude
    }
    chosen = layout.match_classes(available, wanted, source.aliases, dirs["train"])
    files: dict[str, dict[int, list[str]]] = {}
    ignored = 0
    for split, split_dir in dirs.items():
        on_disk = layout.class_dirs(split_dir)
        files[split] = {}
        for label, (_, train_dir) in enumerate(chosen):
            folder = on_disk.get(train_dir.name)
            if folder is None:
                log.warning(
                    "%s has no %s/ folder: no %s images of that class",
                    split_dir,
                    train_dir.name,
                    split,
                )
                continue
            images, other = layout.list_images(folder)
            if not images:
                raise ValueError(
                    f"class folder {folder} holds no image files (looked for "
                    f"{', '.join(sorted(layout.IMAGE_EXTENSIONS))})"
                )
            files[split][label] = images
            ignored += other
    return [name for name, _ in chosen], files, ignored


def load_folder(cfg: DictConfig, source: FolderSource) -> ImageFiles:
    """Find, list and scan a folder dataset; bad files are skipped, counted and named. The scan
    decodes every new file at the configured size (`scan_cache.decode_folder`: one read per
    file); with ``dataset.cache=memory`` it decodes every file and keeps them all, the
    in-memory cache."""
    if not cfg.get("image_size"):
        raise ValueError(f"dataset={cfg.name}: set dataset.image_size=[height,width]")
    root = find_root(cfg, source)
    class_names, files, ignored = list_splits(root, source, list(cfg.classes or []) or None)
    rows = [
        (split, label, path)
        for split, by_class in files.items()
        for label, paths in by_class.items()
        for path in paths
    ]
    size = (int(cfg.image_size[0]), int(cfg.image_size[1]))
    channels = decode.channels_of(cfg.color_mode)
    keep = cfg.get("cache") == "memory"
    results, pixels = scan_cache.decode_folder(
        [path for *_, path in rows], root, size, channels, keep
    )
    skipped = [result for result in results if isinstance(result, SkippedFile)]
    if skipped and cfg.get("strict"):
        listed = "\n  ".join(f"{bad.path}: {bad.reason}" for bad in skipped[:20])
        raise ValueError(f"dataset.strict=true and {len(skipped)} bad image files:\n  {listed}")
    splits = {split: file_table(rows, results, split, pixels is not None) for split in files}
    check_classes_not_empty(splits, class_names, files)
    if skipped:
        log.warning(
            "skipped %d of %d image files that cannot be decoded (listed in dataset.json), "
            "e.g. %s",
            len(skipped),
            len(rows),
            "; ".join(f"{bad.path}: {bad.reason}" for bad in skipped[:3]),
        )
    if ignored:
        log.info("ignored %d files without an image extension in %s", ignored, root)
    return ImageFiles(class_names, str(root), splits, skipped, ignored, pixels)


def file_table(
    rows: list[tuple[str, int, str]], results: list[Result], split: str, decoded: bool
) -> FileTable:
    """The readable files of one split; with ``decoded``, each one's row in the scan's pixels
    (its index in ``rows``)."""
    good = [
        (row, label, path, info)
        for row, ((row_split, label, path), info) in enumerate(zip(rows, results, strict=True))
        if row_split == split and isinstance(info, ImageInfo)
    ]
    return FileTable(
        paths=[path for _, _, path, _ in good],
        labels=[label for _, label, _, _ in good],
        formats=[info.format for *_, info in good],
        sizes=[(info.height, info.width) for *_, info in good],
        hashes=[info.sha256 for *_, info in good],
        decoders=[info.decoder for *_, info in good],
        nbytes=[info.nbytes for *_, info in good],
        rows=[row for row, *_ in good] if decoded else None,
        modes=[info.mode for *_, info in good],
    )


def check_classes_not_empty(
    splits: dict[str, FileTable], class_names: list[str], files: dict[str, dict[int, list[str]]]
) -> None:
    """A class folder whose every file was bad is an error, not a silently missing class."""
    for split, table in splits.items():
        counts = np.bincount(table.labels, minlength=len(class_names))
        for label in files[split]:
            if counts[label] == 0:
                folder = Path(files[split][label][0]).parent
                raise ValueError(
                    f"class folder {folder} ({class_names[label]!r}, {split}) holds no readable "
                    "image: every file failed to decode"
                )


def load_image_folder(cfg: DictConfig) -> ImageFiles:
    """Any ``root/<class>/*`` or ``root/{train,val,test}/<class>/*`` folder."""
    return load_folder(cfg, IMAGE_FOLDER)


def load_chest_xray(cfg: DictConfig) -> ImageFiles:
    """Kaggle's chest X-ray pneumonia folders: train/val/test x NORMAL/PNEUMONIA."""
    return load_folder(cfg, CHEST_XRAY)


def load_flowers(cfg: DictConfig) -> ImageFiles:
    """Five flower classes, one folder each (TensorFlow's or Kaggle's names)."""
    return load_folder(cfg, FLOWERS)


def load_caltech101(cfg: DictConfig) -> ImageFiles:
    """Caltech-101's 101_ObjectCategories/<category>/*.jpg (BACKGROUND_Google left out)."""
    return load_folder(cfg, CALTECH101)
