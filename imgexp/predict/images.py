"""Reads image files for prediction the way training saw its images: checked by Pillow (format
by content, so a WebP named ``.JPG`` is fine; decompression-bomb limit; truncation), decoded by
TensorFlow for the formats ``keras.utils.image_dataset_from_directory`` reads (JPEG, PNG, GIF,
BMP: bit-identical pixels; Pillow's JPEG decoder differs by up to ~20 levels at edges) and by
Pillow otherwise, converted to the model's channel count with the dataset builder's function,
and resized with the training pipeline's own bilinear resize.

EXIF orientation is ignored, as Keras' and TF's image loaders ignore it during training."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from imgexp.dataset.arrays import match_channels

# Pillow's own decompression-bomb limit (about 89.5 million pixels, e.g. 9459 x 9459).
DEFAULT_MAX_PIXELS = 89_478_485
# What keras.utils.image_dataset_from_directory (tf.io.decode_image) decodes.
TF_FORMATS = {"JPEG", "PNG", "GIF", "BMP"}
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


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
    """One image as uint8 ``(H, W, channels)`` at ``image_size``; raises `ImageError` naming the
    file when it is not an image, is truncated or corrupt, or has more than ``max_pixels``."""
    if channels not in (1, 3):
        raise ValueError(f"the model takes {channels}-channel images; only 1 or 3 are supported")
    try:
        with bomb_limit(max_pixels), Image.open(path) as image:
            image.load()  # decode now: a truncated file fails here, not later
            pixels = None if image.format in TF_FORMATS else as_uint8_array(image)
        if pixels is None:
            pixels = decode_like_keras(Path(path).read_bytes(), channels)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (Pillow cannot identify the format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(
            f"{path}: refused as a possible decompression bomb: {error} "
            f"(for a trusted file raise the limit, e.g. --max-pixels)"
        ) from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
        raise ImageError(f"{path}: {error.strerror}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(
            f"{path}: cannot decode the image, truncated or corrupt ({error})"
        ) from None
    pixels = match_channels(pixels[np.newaxis], "rgb" if channels == 3 else "grayscale")[0]
    if image_size is not None and tuple(pixels.shape[:2]) != tuple(image_size):
        pixels = resize(pixels, image_size)
    return pixels


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


def as_uint8_array(image: Image.Image) -> np.ndarray:
    """Grayscale sources as ``(H, W, 1)``, everything else as RGB ``(H, W, 3)``; alpha dropped
    (as TF's decoders do with a fixed channel count), 16-bit and float gray scaled to 0..255."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        gray = np.round(np.asarray(image, np.float64) / 257.0)
    elif image.mode == "F":
        gray = np.asarray(image, np.float64)
    elif image.mode in GRAY_MODES:
        gray = np.asarray(image.convert("L"))
    else:
        if image.mode in ("P", "PA"):
            image = image.convert("RGBA")  # a palette with transparency needs RGBA first
        return np.asarray(image.convert("RGB"), np.uint8)
    return np.clip(gray, 0, 255).astype(np.uint8)[..., np.newaxis]


def decode_like_keras(data: bytes, channels: int) -> np.ndarray:
    """``tf.io.decode_image`` as Keras' folder loader calls it (first frame of a GIF); formats
    that refuse that channel count are decoded as stored, alpha dropped."""
    import tensorflow as tf

    try:
        return tf.io.decode_image(data, channels=channels, expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError:
        stored = tf.io.decode_image(data, expand_animations=False).numpy()
        return stored[..., :3] if stored.shape[-1] >= 3 else stored[..., :1]


def resize(pixels: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize with the very map function of the training pipeline."""
    from imgexp.dataset.pipeline import resizer

    resized, _ = resizer(tuple(image_size))(pixels, 0)
    return np.asarray(resized)
