"""The folder datasets imgexp knows by name (chest X-ray, flowers, Caltech-101, any
``image_folder``): where each usually lives, how its folders look, and how to get it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from imgexp.dataset import download


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


def keras_archive(fname: str, origin: str, what: str, advice: str) -> Callable[[], None]:
    """A download=true action: keras' downloader fetches and extracts into its cache."""

    def fetch() -> None:
        import keras

        download.fetch(
            origin,
            what,
            advice,
            lambda: keras.utils.get_file(fname, origin=origin, extract=True),
        )

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
    },
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
    ),
    split_layout=False,
    exclude=("BACKGROUND_Google",),  # clutter, not an object category
    advice=CALTECH_HELP + " Or add dataset.download=true when online.",
    fetch=fetch_caltech101,
)
