"""Decoding image files, the one path shared by training, evaluation and prediction. The scan
(`imgexp.dataset.scan`) decodes every file once with `choose_decoder`, which picks the decoder
the file will take from then on, so a file the scan accepts is one its decoder has read:

* TensorFlow's own decoders for JPEG, PNG, GIF and WebP (by content, so a PNG named .jpg works).
  JPEGs are decoded at 1/2, 1/4 or 1/8 scale by libjpeg (``ratio``) when that still covers the
  target size, which makes large photos several times cheaper; GIFs give their first frame.
* PIL (`pil_rgb`, through ``tf.numpy_function``) for everything else PIL reads (TIFF, BMP, ...)
  and for the files TensorFlow refuses (an animated WebP, a JPEG its libjpeg cannot read). BMP
  always takes it: TensorFlow reads an 8-bit palette BMP's indices as gray levels (wrong
  colours, no error) and refuses 1- and 4-bit ones.

Both paths give the same pixels for the same picture: 3 channels with palettes expanded, alpha
dropped (not composited), gray replicated; 16-bit samples keep their high byte (TensorFlow's
16-bit PNG conversion); EXIF orientation is ignored, by TensorFlow and so by PIL here (Keras'
folder loader ignores it too); animations and multi-page files give their first frame. Every
image is then resized (bilinear, like Keras' loaders) and made grayscale if configured, by
`pixels`: the graph both the tf.data decoder of files (`decoder`) and the scan's decoder of the
contents it read (`batch_decoder`) run, so the two give the same pixels."""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from PIL import Image

JPEG_RATIOS = (1, 2, 4, 8)
NATIVE, PIL_FALLBACK = len(JPEG_RATIOS), len(JPEG_RATIOS) + 1
TF, PIL = "tf", "pil"  # the decoders a file can take (`choose_decoder`)
TF_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP"})  # worth trying with TensorFlow first
SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
# Part of the file-cache name of decoded splits: bump it when the pixels a file decodes to
# change, so caches written by an older decoder are not reused.
VERSION = 2


def channels_of(color_mode: str) -> int:
    """Channels of the decoded images for ``dataset.color_mode``."""
    return 1 if color_mode == "grayscale" else 3


def jpeg_ratio(height: int, width: int, target: tuple[int, int]) -> int:
    """The largest libjpeg scale-down whose output still covers the target size."""
    for ratio in reversed(JPEG_RATIOS):
        if math.ceil(height / ratio) >= target[0] and math.ceil(width / ratio) >= target[1]:
            return ratio
    return 1


def default_decoder(image_format: str) -> str:
    """The decoder a file of this format takes when the scan did not choose (older tables)."""
    return TF if image_format in TF_FORMATS else PIL


def branch(
    image_format: str, height: int, width: int, target: tuple[int, int], decoder: str = ""
) -> int:
    """Which decode path a file takes (an index into `decoder`'s branches)."""
    if (decoder or default_decoder(image_format)) == PIL:
        return PIL_FALLBACK
    if image_format == "JPEG":
        return JPEG_RATIOS.index(jpeg_ratio(height, width, target))
    return NATIVE


def first_decoder(image_format: str, animated: bool) -> str:
    """The decoder a file is tried with first: TensorFlow's for its formats, except an animated
    WebP (which it refuses), else PIL."""
    webp_animation = animated and image_format == "WEBP"
    return TF if image_format in TF_FORMATS and not webp_animation else PIL


def choose_decoder(contents: bytes, image_format: str, first: str) -> str:
    """Decode a file once, as the check-only scan does: `TF` when ``first`` is TF and
    TensorFlow's decoder reads it, else `PIL` when PIL does; raises PIL's error when neither can
    (the file is skipped with it).

    A JPEG is tried at 1/8 scale: libjpeg still decodes every entropy-coded byte (where corrupt
    and truncated files fail) but skips the full-size inverse DCT, upsampling and colour
    conversion; the entropy decoding left is still about half to two thirds of a full decode."""
    if first == TF:
        try:
            if image_format == "JPEG":
                tf.io.decode_jpeg(contents, channels=3, ratio=8)
            else:
                tf.io.decode_image(contents, channels=3, expand_animations=False)
            return TF
        except tf.errors.OpError:
            pass  # PIL may still read it (and says why not when it cannot)
    pil_rgb(contents)
    return PIL


def pil_rgb(contents: bytes | np.ndarray) -> np.ndarray:
    """Decode any PIL-readable image to uint8 RGB, the way TensorFlow's decoders would."""
    if isinstance(contents, np.ndarray):  # run eagerly, tf.numpy_function passes a 0-d array
        contents = contents.item()
    with Image.open(io.BytesIO(contents)) as image:
        return to_rgb(image)


def to_rgb(image: Image.Image) -> np.ndarray:
    """The first frame of ``image`` as uint8 (H, W, 3), in every mode PIL opens."""
    if image.mode in SIXTEEN_BIT_MODES:  # 16-bit gray (TIFF, PGM): the high byte, as TF does
        gray = (np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8)
    elif image.mode == "F":  # 32-bit float samples: rounded and clipped, as PIL converts them
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        gray = np.clip(np.round(values), 0, 255).astype(np.uint8)
    else:
        if image.mode == "La":  # premultiplied alpha: PIL converts it only through LA
            image = image.convert("LA")
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def error_text(error: BaseException) -> str:
    """A TensorFlow error's own words, without its op and device decoration."""
    text = getattr(error, "message", None) or str(error)
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:\w+\].*$", "", text, flags=re.S).strip()


def pixels(
    contents: tf.Tensor, which: tf.Tensor | int, image_size: tuple[int, int], channels: int
) -> tf.Tensor:
    """One file's contents as uint8 (H, W, channels), decoded by branch ``which`` (`branch`): a
    tensor picks the branch per file (``switch_case``), an int builds that branch alone."""
    height, width = int(image_size[0]), int(image_size[1])

    def jpeg(ratio: int) -> Callable[[], tf.Tensor]:
        return lambda: tf.io.decode_jpeg(contents, channels=3, ratio=ratio)

    def native() -> tf.Tensor:
        return tf.io.decode_image(contents, channels=3, expand_animations=False)

    def fallback() -> tf.Tensor:
        image = tf.numpy_function(pil_rgb, [contents], tf.uint8, stateful=False)
        return tf.ensure_shape(image, [None, None, 3])

    branches = [jpeg(ratio) for ratio in JPEG_RATIOS] + [native, fallback]
    image = branches[which]() if isinstance(which, int) else tf.switch_case(which, branches)
    image = tf.image.resize(image, (height, width))
    if channels == 1:
        image = tf.image.rgb_to_grayscale(image)  # weights summing to 0.9999: stays <= 255
    # No clip: a bilinear value lies between its (uint8) neighbours, so it is in [0, 255].
    image = tf.cast(tf.round(image), tf.uint8)
    return tf.ensure_shape(image, (height, width, channels))


def decoder(image_size: tuple[int, int], channels: int) -> Callable:
    """A tf.data map function ``(path, branch, nbytes, label) -> (uint8 (H, W, channels),
    label)``; ``nbytes`` (the size the scan read, -1: unknown) makes a file that changed since
    the scan fail naming itself instead of decoding to something else or failing anonymously."""

    @tf.autograph.experimental.do_not_convert  # nothing to convert; tracing is faster
    def decode(path: tf.Tensor, which: tf.Tensor, nbytes: tf.Tensor, label: tf.Tensor):
        contents = tf.io.read_file(path)
        nbytes = tf.cast(nbytes, tf.int64)
        unchanged = tf.logical_or(
            nbytes < 0, tf.equal(tf.cast(tf.strings.length(contents), tf.int64), nbytes)
        )
        check = tf.debugging.Assert(
            unchanged, ["image file changed since the scan (rerun to rescan it):", path]
        )
        with tf.control_dependencies([check]):
            contents = tf.identity(contents)
        return pixels(contents, which, image_size, channels), label

    return decode


@functools.lru_cache(maxsize=32)
def batch_decoder(image_size: tuple[int, int], channels: int, which: int) -> Callable:
    """``contents -> uint8 (N, H, W, channels)``: `pixels` by branch ``which`` over files
    already read, several in one call (traced once per size and branch). The scan runs it on
    each group of files it read that take this branch; it fails as a whole when one file fails
    (the scan then tries them one by one). One branch per function: no per-file switch, and a
    smaller graph to trace (a folder's files mostly take one). A tf.data pipeline would cost
    more per file (its per-element machinery, and the ``ignore_errors`` it would need), which
    a folder of tiny images feels."""
    shape = (int(image_size[0]), int(image_size[1]), channels)

    # No autograph: the graph has no Python control flow to convert, and converting it was
    # most of the ~0.25 s the first trace in a process took.
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def decode(contents: tf.Tensor) -> tf.Tensor:
        return tf.map_fn(
            lambda item: pixels(item, which, image_size, channels),
            contents,
            fn_output_signature=tf.TensorSpec(shape, tf.uint8),
            parallel_iterations=8,
        )

    return decode
