"""Checks every image file once before training, so a corrupt, truncated or disguised file is
skipped (and counted) up front instead of crashing an epoch half-way, or vanishing from it.

Each file is identified by content with PIL (``verify()`` too: PNG checksums, ...), hashed
(sha256, for the data digest) and decoded by the decoder that will decode it in training,
evaluation and prediction (TensorFlow's, or PIL's when TensorFlow refuses the file or has none
for its format). So a file the scan accepts is one its decoder has read. Two ways:

* `decode_images` (``dataset.cache=memory``, the default): one read per file does it all, and
  the decode is the training decode itself, at the configured size (`decode.pixels`, in
  threads), so the scan fills the in-memory cache and the first epoch decodes nothing. Files
  an earlier scan checked (`imgexp.dataset.scan_cache`) are read and decoded only.
* `check_image` / `scan_images` (a cache directory or none, and prediction): the check alone,
  with a cheap 1/8-scale decode for JPEGs (`decode.choose_decoder`); training decodes again."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from imgexp.dataset import decode
from imgexp.dataset.files import SkippedFile

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
)
# PIL names some camera JPEGs "MPO" (multi-picture); TensorFlow decodes them as JPEG.
FORMAT_ALIASES = {"MPO": "JPEG"}
# `decode_images` hands files to TensorFlow in groups of at most this many files or bytes: few
# calls for folders of tiny images, bounded memory for folders of huge ones.
GROUP_FILES, GROUP_BYTES = 64, 16 << 20


@dataclass(frozen=True)
class ImageInfo:
    """What the scan learnt about one readable image."""

    format: str  # the real format, whatever the extension says (a PNG named .jpg is "PNG")
    height: int
    width: int
    sha256: str
    decoder: str = decode.TF  # decode.TF or decode.PIL: the decoder that read it
    nbytes: int = -1  # the file's size when scanned (-1: unknown)
    mode: str = ""  # PIL's mode ("RGB", "L", "P", ...; "": not recorded by an older scan)


Result = ImageInfo | SkippedFile


def unreadable(error: BaseException) -> str:
    return f"not a readable image: {type(error).__name__}: {error}"


def read_checked(path: str) -> tuple[ImageInfo, bytes] | SkippedFile:
    """Read one file, identify it by content with PIL and check its structure; the info names
    the decoder it is tried with first (`decode.first_decoder`), the bytes come along."""
    try:
        data = open(path, "rb").read()  # noqa: SIM115 - one read, closed by refcount
    except OSError as error:
        return SkippedFile(path, f"unreadable: {error}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            found = FORMAT_ALIASES.get(image.format, image.format)
            width, height = image.size
            mode = image.mode
            animated = bool(getattr(image, "is_animated", False))
            image.verify()
    except UnidentifiedImageError:
        return SkippedFile(path, "not an image (no known image format)")
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad files
        return SkippedFile(path, unreadable(error))
    first = decode.first_decoder(found, animated)
    digest = hashlib.sha256(data).hexdigest()
    return ImageInfo(found, height, width, digest, first, len(data), mode), data


def check_image(path: str) -> Result:
    """`read_checked`, then one decode by the decoder the file takes (`decode.choose_decoder`)."""
    checked = read_checked(path)
    if isinstance(checked, SkippedFile):
        return checked
    info, data = checked
    try:
        decoder = decode.choose_decoder(data, info.format, info.decoder)
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad files
        return SkippedFile(path, unreadable(error))
    return replace(info, decoder=decoder)


def scan_images(paths: Sequence[str], workers: int | None = None) -> list[Result]:
    """`check_image` over many files in threads (reads, hashing and decoding release the GIL)."""
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        return list(pool.map(check_image, paths))


def default_workers() -> int:
    return min(16, 4 * (os.cpu_count() or 1))


def decode_images(
    paths: Sequence[str],
    known: Sequence[Result | None],
    sizes: Sequence[int],
    image_size: tuple[int, int],
    channels: int,
    workers: int | None = None,
) -> tuple[list[Result], np.ndarray]:
    """Check and decode every file at ``image_size`` with one read each: ``(results, images)``,
    where row i of ``images`` (uint8 (N, H, W, channels)) is file i as training decodes it,
    when it is readable.

    ``known`` holds what an earlier scan found (None: nothing): a skipped file stays skipped
    unread; a checked one is only read and decoded (checked again if its size changed). A
    result that is not ``known``'s object is new (the caller remembers it). ``sizes`` (bytes,
    from the caller's stat) bound the groups the files are decoded in."""
    images = aligned_empty((len(paths), *image_size, channels))
    results: list[Result | None] = list(known)

    def work(group: list[int]) -> None:
        todo = []
        for index in group:
            read = read_for_decode(paths[index], known[index])
            if isinstance(read, SkippedFile):
                results[index] = read
            else:
                todo.append((index, paths[index], *read))
        for index, result in decode_group(todo, tuple(image_size), channels, images).items():
            results[index] = result

    with ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 1) + 2)) as pool:
        for _ in pool.map(work, grouped(len(paths), sizes)):
            pass  # raises the first worker error, if any
    return [result for result in results if result is not None], images


def grouped(count: int, sizes: Sequence[int]) -> Iterator[list[int]]:
    """Consecutive file indices in groups of at most `GROUP_FILES` files and `GROUP_BYTES`."""
    group: list[int] = []
    total = 0
    for index in range(count):
        group.append(index)
        total += max(0, sizes[index])
        if len(group) >= GROUP_FILES or total >= GROUP_BYTES:
            yield group
            group, total = [], 0
    if group:
        yield group


def read_for_decode(path: str, known: Result | None) -> tuple[ImageInfo, bytes] | SkippedFile:
    """A known image's bytes (with its known info, when its size is unchanged); a known skip;
    else `read_checked`."""
    if isinstance(known, SkippedFile):
        return known
    if isinstance(known, ImageInfo):
        try:
            data = open(path, "rb").read()  # noqa: SIM115 - one read, closed by refcount
        except OSError as error:
            return SkippedFile(path, f"unreadable: {error}")
        if len(data) == known.nbytes:
            return known, data
    return read_checked(path)


Todo = list[tuple[int, str, ImageInfo, bytes]]  # (index, path, info, contents)


def decode_group(
    todo: Todo, image_size: tuple[int, int], channels: int, images: np.ndarray
) -> dict[int, Result]:
    """Decode a group of files into their rows of ``images`` with one TensorFlow call, or one by
    one (`decode_one`) when that call fails, to find the file that did."""
    run = decode.batch_decoder(image_size, channels)
    if not todo:
        return {}
    which = [
        decode.branch(i.format, i.height, i.width, image_size, i.decoder) for *_, i, _ in todo
    ]
    try:
        decoded = run(tf.constant([data for *_, data in todo]), tf.constant(which, tf.int32))
    except tf.errors.OpError:
        return {index: decode_one(run, *rest, image_size, images, index) for index, *rest in todo}
    images[[index for index, *_ in todo]] = decoded.numpy()
    return {index: info for index, _, info, _ in todo}


def decode_one(
    run, path: str, info: ImageInfo, data: bytes, size: tuple[int, int], images, index: int
) -> Result:
    """One file alone: by its decoder, then by PIL's when that was TensorFlow's (as
    `decode.choose_decoder` chooses); skipped, in PIL's words, when neither reads it."""
    attempts = [info] if info.decoder == decode.PIL else [info, replace(info, decoder=decode.PIL)]
    for attempt in attempts:
        which = decode.branch(attempt.format, attempt.height, attempt.width, size, attempt.decoder)
        try:
            images[index] = run(tf.constant([data]), tf.constant([which], tf.int32)).numpy()[0]
            return attempt
        except tf.errors.OpError as error:
            failure = error
    try:
        decode.pil_rgb(data)
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad files
        return SkippedFile(path, unreadable(error))
    return SkippedFile(path, f"not a readable image: {decode.error_text(failure)}")


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised uint8 array starting on a 64-byte boundary: TensorFlow can then use it
    in place (`imgexp.dataset.pipeline.image_tensor`) instead of copying the whole cache."""
    count = int(np.prod(shape))
    raw = np.empty(count + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + count].reshape(shape)
