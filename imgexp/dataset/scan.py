"""Checks every image file once before training, so a corrupt, truncated or disguised file is
skipped (and counted) up front instead of crashing an epoch half-way."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from imgexp.dataset.files import SkippedFile

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
)
# PIL names some camera JPEGs "MPO" (multi-picture); TensorFlow decodes them as JPEG.
FORMAT_ALIASES = {"MPO": "JPEG"}
JPEG_END = b"\xff\xd9"


@dataclass(frozen=True)
class ImageInfo:
    """What the scan learnt about one readable image."""

    format: str  # the real format, whatever the extension says (a PNG named .jpg is "PNG")
    height: int
    width: int
    sha256: str


def check_image(path: str) -> ImageInfo | SkippedFile:
    """Read one file; identify it by content with PIL and make sure it decodes to the end.

    ``verify()`` parses headers (and PNG checksums) without decoding. JPEGs that do not end
    with their end-of-image marker, and formats verify() checks little, are decoded fully."""
    try:
        data = open(path, "rb").read()  # noqa: SIM115 - one read, closed by refcount
    except OSError as error:
        return SkippedFile(path, f"unreadable: {error}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = FORMAT_ALIASES.get(image.format, image.format)
            width, height = image.size
            image.verify()
        if found != "PNG" and not (found == "JPEG" and data.rstrip(b"\0").endswith(JPEG_END)):
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except UnidentifiedImageError:
        return SkippedFile(path, "not an image (no known image format)")
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad files
        return SkippedFile(path, f"not a readable image: {type(error).__name__}: {error}")
    return ImageInfo(found, height, width, hashlib.sha256(data).hexdigest())


def scan_images(paths: Sequence[str], workers: int | None = None) -> list[ImageInfo | SkippedFile]:
    """`check_image` over many files in threads (file reads and hashing release the GIL)."""
    workers = workers or min(16, 4 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(check_image, paths))
