"""Folder datasets (chest X-ray, flowers, Caltech-101, any ``image_folder``): find the root,
list the class folders, scan every image, and hand the file lists to `build_data`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from imgexp.dataset import download, layout, locate, scan_cache
from imgexp.dataset.files import FileTable, ImageFiles, SkippedFile
from imgexp.dataset.scan import ImageInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderSource:
    """What tells one folder dataset from another: where it usually lives and how it looks."""

    dirs: tuple[str, ...] = ()  # usual directory names under $IMGEXP_DATA_DIR / keras' cache
    subdirs: tuple[str, ...] = ("",)  # where in such a directory the root is, most specific first
    split_layout: bool | None = None  # True: train/val/test; False: class folders; None: either
    aliases: dict[str, str] = field(default_factory=dict)  # class name -> folder name on disk
    exclude: tuple[str, ...] = ()  # class folders left out unless `classes:` names them
    advice: str = ""  # how to get the data
    fetch: Callable[[], None] | None = None  # download=true (keras' downloader)


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
        raise ValueError(
            f"dataset={cfg.name} needs dataset.data_dir=<root>, a folder laid out as\n"
            f"{layout.CLASS_LAYOUT}\nor\n{layout.SPLIT_LAYOUT}"
        )
    root = locate.find_first(bases, source.subdirs, accepts(source))
    if root is None and cfg.get("download") and source.fetch is not None:
        source.fetch()
        root = locate.find_first(bases, source.subdirs, accepts(source))
    if root is None:
        expected = {True: layout.SPLIT_LAYOUT, False: layout.CLASS_LAYOUT}.get(
            source.split_layout, f"{layout.CLASS_LAYOUT}\nor\n{layout.SPLIT_LAYOUT}"
        )
        if cfg.get("download") and source.fetch is None:
            expected += f"\n(dataset={cfg.name} cannot be downloaded automatically.)"
        raise FileNotFoundError(
            locate.not_found_message(f"{cfg.name}: image folder", bases, expected, source.advice)
        )
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
                log.warning("%s has no %s/ folder: no %s images of that class", split_dir,
                            train_dir.name, split)  # fmt: skip
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
    """Find, list and scan a folder dataset; bad files are skipped, counted and named."""
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
    results = scan_cache.scan_folder([path for _, _, path in rows], root)
    skipped = [result for result in results if isinstance(result, SkippedFile)]
    if skipped and cfg.get("strict"):
        listed = "\n  ".join(f"{bad.path}: {bad.reason}" for bad in skipped[:20])
        raise ValueError(f"dataset.strict=true and {len(skipped)} bad image files:\n  {listed}")
    splits = {}
    for split in files:
        good = [
            (label, path, info)
            for (row_split, label, path), info in zip(rows, results, strict=True)
            if row_split == split and isinstance(info, ImageInfo)
        ]
        splits[split] = FileTable(
            paths=[path for _, path, _ in good],
            labels=[label for label, _, _ in good],
            formats=[info.format for _, _, info in good],
            sizes=[(info.height, info.width) for _, _, info in good],
            hashes=[info.sha256 for _, _, info in good],
        )
    check_classes_not_empty(splits, class_names, files)
    if skipped:
        log.warning(
            "skipped %d of %d image files that cannot be decoded (listed in dataset.json), "
            "e.g. %s", len(skipped), len(rows),
            "; ".join(f"{bad.path}: {bad.reason}" for bad in skipped[:3]),
        )  # fmt: skip
    if ignored:
        log.info("ignored %d files without an image extension in %s", ignored, root)
    return ImageFiles(class_names, str(root), splits, skipped, ignored)


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


def keras_archive(fname: str, origin: str, what: str, advice: str) -> Callable[[], None]:
    """A download=true action: keras' downloader fetches and extracts into its cache."""

    def fetch() -> None:
        import keras

        download.fetch(
            origin, what, advice,
            lambda: keras.utils.get_file(fname, origin=origin, extract=True),
        )  # fmt: skip

    return fetch


FLOWERS_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
)
FLOWERS_HELP = (
    f"flowers: TensorFlow's {FLOWERS_URL} (classes daisy dandelion roses sunflowers tulips) or "
    "Kaggle's 'flowers-recognition' (rose, tulip, ...); unpack it and pass "
    "dataset.data_dir=<dir> so that <dir>/<class>/*.jpg exists."
)
CHEST_XRAY_HELP = (
    "chest_xray cannot be downloaded automatically: get 'Chest X-Ray Images (Pneumonia)' from "
    "https://www.kaggle.com/datasets/paultimothymooney/chest-xray-pneumonia (Kaggle account "
    "needed), unzip it, and pass dataset.data_dir=<the folder holding train/ val/ test/>."
)
CALTECH_URL = "https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip"
CALTECH_HELP = (
    f"caltech101: get {CALTECH_URL}, unpack it and the 101_ObjectCategories.tar.gz inside, "
    "and pass dataset.data_dir=<the folder holding 101_ObjectCategories/>."
)

IMAGE_FOLDER = FolderSource()
CHEST_XRAY = FolderSource(
    dirs=("chest_xray", "chest-xray-pneumonia"),
    # Kaggle's zip holds chest_xray/{train,val,test} and a duplicate chest_xray/chest_xray/.
    subdirs=("chest_xray", ""),
    split_layout=True,
    advice=CHEST_XRAY_HELP,
)
FLOWERS = FolderSource(
    dirs=("flowers", "flower_photos"),
    subdirs=("flower_photos/flower_photos", "flower_photos", "flowers", ""),
    split_layout=False,
    aliases={
        "roses": "rose",
        "sunflowers": "sunflower",
        "tulips": "tulip",
        "rose": "roses",
        "sunflower": "sunflowers",
        "tulip": "tulips",
    },  # fmt: skip
    advice=FLOWERS_HELP + " Or add dataset.download=true when online.",
    fetch=keras_archive("flower_photos", FLOWERS_URL, "flowers", FLOWERS_HELP),
)


def fetch_caltech101() -> None:
    """The Caltech zip holds a second archive, 101_ObjectCategories.tar.gz: unpack both."""
    import tarfile

    import keras

    def get() -> None:
        extracted = Path(keras.utils.get_file("caltech101", origin=CALTECH_URL, extract=True))
        for inner in extracted.rglob("101_ObjectCategories.tar.gz"):
            with tarfile.open(inner) as archive:
                archive.extractall(inner.parent, filter="data")

    download.fetch(CALTECH_URL, "caltech101", CALTECH_HELP, get)


CALTECH101 = FolderSource(
    dirs=("caltech101", "caltech-101"),
    subdirs=(
        "101_ObjectCategories",
        "caltech-101/101_ObjectCategories",
        "",
    ),  # fmt: skip
    split_layout=False,
    exclude=("BACKGROUND_Google",),  # clutter, not an object category
    advice=CALTECH_HELP + " Or add dataset.download=true when online.",
    fetch=fetch_caltech101,
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
