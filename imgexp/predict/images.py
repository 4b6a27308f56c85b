"""Reads image files for prediction exactly as imgexp's folder datasets read them for training:
the same scan (format by content, so a WebP named ``.JPG`` is fine; truncated or corrupt files
refused; each file decoded once and its decoder chosen) and the same tf.data decoder
(`imgexp.dataset.decode`: TensorFlow's or PIL's, to RGB, bilinear resize to the model's input
size, grayscale if the model is), so the pixels are bit-identical to what the model trained on,
whatever the format (JPEG, PNG, GIF, BMP, WebP, TIFF, ...). Pillow's decompression-bomb limit
is enforced first, with a clear message. A file that still fails is an `ImageError` naming it
and why, never another exception.

EXIF orientation is ignored, as in training."""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Pillow's own decompression-bomb limit (about 89.5 million pixels, e.g. 9459 x 9459).
DEFAULT_MAX_PIXELS = 89_478_485


class ImageError(ValueError):
    """A file that cannot be used as an image; the message starts with its path."""


@dataclass
class Problem:
    """An input that was reported and skipped."""

    path: str
    message: str


def find_images(
    inputs: list[str | Path], recursive: bool = False
) -> tuple[list[Path], list[Problem]]:
    """Expand files and folders (sorted; hidden files skipped) into the files to read; inputs that
    do not exist or empty folders come back as problems instead of stopping the others."""
    files: list[Path] = []
    problems: list[Problem] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            candidates = path.rglob("*") if recursive else path.iterdir()
            found = sorted(p for p in candidates if p.is_file() and not p.name.startswith("."))
            if not found:
                problems.append(Problem(str(path), "folder has no files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    return files, problems


def load_image(
    path: str | Path,
    image_size: tuple[int, int] | None,
    channels: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """One image as uint8 ``(H, W, channels)`` at ``image_size`` (the file's own size when None);
    raises `ImageError` naming the file when it is not an image, is truncated or corrupt, or
    has more than ``max_pixels``."""
    import tensorflow as tf

    from imgexp.dataset import decode, scan

    if channels not in (1, 3):
        raise ValueError(f"the model takes {channels}-channel images; only 1 or 3 are supported")
    try:
        with bomb_limit(max_pixels), Image.open(path):
            pass  # Pillow checks the pixel count when it reads the header
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(
            f"{path}: refused as a possible decompression bomb: {error} "
            f"(for a trusted file raise the limit, e.g. --max-pixels)"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (no known image format)") from None
    except OSError as error:
        raise ImageError(f"{path}: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad headers
        raise ImageError(
            f"{path}: not a readable image: {type(error).__name__}: {error}"
        ) from None
    with bomb_limit(max_pixels):
        info = scan.check_image(str(path))  # the training scan: decodes it, picks its decoder
        if not isinstance(info, scan.ImageInfo):
            raise ImageError(f"{path}: {info.reason}")
        size = tuple(image_size) if image_size is not None else (info.height, info.width)
        which = decode.branch(info.format, info.height, info.width, size, info.decoder)
        try:
            pixels, _ = decode.decoder(size, channels)(
                tf.constant(str(path)), tf.constant(which), tf.constant(info.nbytes), 0
            )
        except Exception as error:  # noqa: BLE001 - a file changed since its scan, or worse
            raise ImageError(f"{path}: cannot be decoded: {decode.error_text(error)}") from None
    return np.asarray(pixels)


def load_image_bytes(
    data: bytes,
    image_size: tuple[int, int] | None,
    channels: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str = "image",
) -> np.ndarray:
    """`load_image` of an image file's contents (a served request's): the same checks and
    decoder, through a temporary file; the `ImageError` names ``name`` instead of that file."""
    with tempfile.TemporaryDirectory(prefix="imgexp-image-") as folder:
        path = Path(folder) / "image"
        path.write_bytes(data)
        try:
            return load_image(path, image_size, channels, max_pixels)
        except ImageError as error:
            raise ImageError(f"{name}: {str(error).removeprefix(f'{path}: ')}") from None


@contextlib.contextmanager
def bomb_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's decompression-bomb check at ``max_pixels``, its warning turned into an error."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous
