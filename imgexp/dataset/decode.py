"""Decoding image files in tf.data: the scan already knows each file's real format and size,
so every file takes the cheapest correct path (chosen per file with ``tf.switch_case``):

* JPEG: decoded at 1/2, 1/4 or 1/8 scale by libjpeg (``ratio``) when that is still at least the
  target size, which makes large photos several times cheaper to decode; then resized.
* PNG, GIF, BMP, WebP: ``tf.io.decode_image`` (by content, so a PNG named .jpg works).
* anything else PIL can read (TIFF, ...): PIL through ``tf.numpy_function``.

Every image is decoded to 3 channels (grayscale, palette and RGBA are converted; alpha is
dropped), resized (bilinear, like Keras' loaders), then made grayscale if configured."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from PIL import Image

JPEG_RATIOS = (1, 2, 4, 8)
NATIVE, PIL_FALLBACK = len(JPEG_RATIOS), len(JPEG_RATIOS) + 1
TF_FORMATS = frozenset({"PNG", "GIF", "BMP", "WEBP"})


def jpeg_ratio(height: int, width: int, target: tuple[int, int]) -> int:
    """The largest libjpeg scale-down whose output still covers the target size."""
    for ratio in reversed(JPEG_RATIOS):
        if math.ceil(height / ratio) >= target[0] and math.ceil(width / ratio) >= target[1]:
            return ratio
    return 1


def branch(image_format: str, height: int, width: int, target: tuple[int, int]) -> int:
    """Which decode path a file takes (an index into `decoder`'s branches)."""
    if image_format == "JPEG":
        return JPEG_RATIOS.index(jpeg_ratio(height, width, target))
    return NATIVE if image_format in TF_FORMATS else PIL_FALLBACK


def pil_rgb(contents: bytes) -> np.ndarray:
    """Decode any PIL-readable image to uint8 RGB (the fallback path)."""
    with Image.open(io.BytesIO(contents)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def decoder(image_size: tuple[int, int], channels: int) -> Callable:
    """A tf.data map function ``(path, branch, label) -> (uint8 (H, W, channels), label)``."""
    height, width = int(image_size[0]), int(image_size[1])

    def decode(path: tf.Tensor, which: tf.Tensor, label: tf.Tensor):
        contents = tf.io.read_file(path)

        def jpeg(ratio: int) -> Callable[[], tf.Tensor]:
            return lambda: tf.io.decode_jpeg(contents, channels=3, ratio=ratio)

        def native() -> tf.Tensor:
            return tf.io.decode_image(contents, channels=3, expand_animations=False)

        def fallback() -> tf.Tensor:
            image = tf.numpy_function(pil_rgb, [contents], tf.uint8, stateful=False)
            return tf.ensure_shape(image, [None, None, 3])

        image = tf.switch_case(which, [jpeg(ratio) for ratio in JPEG_RATIOS] + [native, fallback])
        image = tf.image.resize(image, (height, width))
        if channels == 1:
            image = tf.image.rgb_to_grayscale(image)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return tf.ensure_shape(image, (height, width, channels)), label

    return decode
