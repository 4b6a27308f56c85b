"""Checks every image file once before training, so a corrupt, truncated or disguised file is
skipped (and counted) up front instead of crashing an epoch half-way, or vanishing from it.

Each file is identified by content with PIL, then decoded once by the decoder that will decode
it in training, evaluation and prediction (`decode.choose_decoder`: TensorFlow's, or PIL's when
TensorFlow refuses the file or has none for its format). So a file the scan accepts is one its
decoder has read; the cost is one decode per new or changed file (the results are remembered,
`imgexp.dataset.scan_cache`), a cheap 1/8-scale one for JPEGs."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from imgexp.dataset import decode
from imgexp.dataset.files import SkippedFile

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
)
# PIL names some camera JPEGs "MPO" (multi-picture); TensorFlow decodes them as JPEG.
FORMAT_ALIASES = {"MPO": "JPEG"}


@dataclass(frozen=True)
class ImageInfo:
    """What the scan learnt about one readable image."""

    format: str  # the real format, whatever the extension says (a PNG named .jpg is "PNG")
    height: int
    width: int
    sha256: str
    decoder: str = decode.TF  # decode.TF or decode.PIL: the decoder that read it
    nbytes: int = -1  # the file's size when scanned (-1: unknown)


def check_image(path: str) -> ImageInfo | SkippedFile:
    """Read one file; identify it by content with PIL, check its structure (``verify()``: PNG
    checksums, ...) and decode it with the decoder it will take (`decode.choose_decoder`)."""
    try:
        data = open(path, "rb").read()  # noqa: SIM115 - one read, closed by refcount
    except OSError as error:
        return SkippedFile(path, f"unreadable: {error}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = FORMAT_ALIASES.get(image.format, image.format)
            width, height = image.size
            animated = bool(getattr(image, "is_animated", False))
            image.verify()
        decoder = decode.choose_decoder(data, found, animated)
    except UnidentifiedImageError:
        return SkippedFile(path, "not an image (no known image format)")
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad files
        return SkippedFile(path, f"not a readable image: {type(error).__name__}: {error}")
    return ImageInfo(found, height, width, hashlib.sha256(data).hexdigest(), decoder, len(data))


def scan_images(paths: Sequence[str], workers: int | None = None) -> list[ImageInfo | SkippedFile]:
    """`check_image` over many files in threads (reads, hashing and decoding release the GIL)."""
    workers = workers or min(16, 4 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(check_image, paths))
