"""The folder datasets imgexp knows by name (chest X-ray, flowers, Caltech-101, any
``image_folder``): where each usually lives, how its folders look, and how to get it."""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from imgexp.dataset import download, locate

# download=true: fetch(cfg, found root or None) -> whether it downloaded (then look again).
Fetch = Callable[[DictConfig, Path | None], bool]


@dataclass(frozen=True)
class FolderSource:
    """What tells one folder dataset from another: where it usually lives and how it looks."""

    dirs: tuple[str, ...] = ()  # usual directory names under $IMGEXP_DATA_DIR / keras' cache
    subdirs: tuple[str, ...] = ("",)  # where in such a directory the root is, most specific first
    split_layout: bool | None = None  # True: train/val/test; False: class folders; None: either
    aliases: dict[str, str] = field(default_factory=dict)  # class name -> folder name on disk
    exclude: tuple[str, ...] = ()  # class folders left out unless `classes:` names them
    advice: str = ""  # how to get the data
    fetch: Fetch | None = None  # download=true


def archive_fetch(
    name: str,
    remote: download.Remote,
    advice: str,
    extract: Callable[[Path, Path], None] = download.extract_tar,
) -> Fetch:
    """download=true for an archive: it is fetched, verified and extracted into
    ``<keras cache>/<name>/`` (with a completion marker) when the root was not found, or was
    found there without the marker (an interrupted extraction)."""

    def fetch(cfg: DictConfig, found: Path | None) -> bool:
        dest = locate.keras_datasets_dir() / name
        if found is not None and (
            not found.is_relative_to(dest) or download.is_complete(dest, remote, cfg)
        ):
            return False
        download.ensure_extracted(remote, cfg, dest, name, advice, extract)
        return True

    return fetch


FLOWERS_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
)
# tensorflow-datasets' SHA-256 of flower_photos.tgz (url_checksums/tf_flowers.txt, 228,813,984
# bytes; download.tensorflow.org is this same bucket).
FLOWERS_REMOTE = download.Remote(
    FLOWERS_URL, sha256="4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c"
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
# CaltechDATA publishes an MD5 only (record mzrjq-6wc02, 137,414,764 bytes).
CALTECH_REMOTE = download.Remote(CALTECH_URL, md5="3138e1922a9193bfa496528edbbc45d0")
CALTECH_INNER = "101_ObjectCategories.tar.gz"
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
    },
    advice=FLOWERS_HELP + " Or add dataset.download=true when online.",
    fetch=archive_fetch("flowers", FLOWERS_REMOTE, FLOWERS_HELP),
)


def extract_caltech101(archive: Path, into: Path) -> None:
    """caltech-101.zip holds caltech-101/101_ObjectCategories.tar.gz (and annotations, left
    out, and macOS' __MACOSX/ copies): the inner archive is streamed out of the zip."""
    with zipfile.ZipFile(archive) as outer:
        inner = [
            name
            for name in outer.namelist()
            if Path(name).name == CALTECH_INNER and not name.startswith("__MACOSX")
        ]
        if not inner:
            raise ValueError(f"{archive.name} holds no {CALTECH_INNER}")
        with outer.open(inner[0]) as handle, tarfile.open(fileobj=handle, mode="r|gz") as tar:
            tar.extractall(into, filter="data")


CALTECH101 = FolderSource(
    dirs=("caltech101", "caltech-101"),
    subdirs=(
        "101_ObjectCategories",
        "caltech-101/101_ObjectCategories",
        "",
    ),
    split_layout=False,
    exclude=("BACKGROUND_Google",),  # clutter, not an object category
    advice=CALTECH_HELP + " Or add dataset.download=true when online.",
    fetch=archive_fetch("caltech101", CALTECH_REMOTE, CALTECH_HELP, extract_caltech101),
)
