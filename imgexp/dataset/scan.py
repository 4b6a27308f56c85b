"""Checks every image file once before training, so a corrupt, truncated or disguised file is
skipped (and counted) up front instead of crashing an epoch half-way, or vanishing from it.

Each file is identified by content with PIL (``verify()`` too: PNG checksums, ...), hashed
(sha256, for the data digest) and decoded by the decoder that will decode it in training,
evaluation and prediction (TensorFlow's, or PIL's when TensorFlow refuses the file or has none
for its format). So a file the scan accepts is one its decoder has read.

`decode_images` does it all with one read per file, and its decode is the training decode
itself at the configured size (`decode.pixels`, groups of files per TensorFlow call, in
threads). With ``dataset.cache=memory`` (the default) it keeps the pixels: the scan fills the
in-memory cache and the first epoch decodes nothing. Otherwise they are dropped and the
pipeline reads and decodes the files again each epoch (or once, into a cache directory).
`check_image` checks one file alone (prediction; a cheap 1/8-scale decode for JPEGs)."""

from __future__ import annotations

import hashlib
import io
import mmap
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
# `decode_images` hands files to TensorFlow in groups of at most this many files, bytes read
# and bytes decoded: few calls for folders of tiny images, bounded memory for huge ones, and a
# group's decoded output small enough for the allocator to reuse (a bigger one is mapped fresh
# for every call, and its page faults cost as much as the decoding on a VM).
GROUP_FILES, GROUP_BYTES, GROUP_PIXELS = 256, 16 << 20, 4 << 20


@dataclass(frozen=True, slots=True)  # slots: one object less per file for the GC to track
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


def decode_images(
    paths: Sequence[str],
    known: Sequence[Result | None],
    sizes: Sequence[int],
    image_size: tuple[int, int],
    channels: int,
    keep: bool = True,
    workers: int | None = None,
) -> tuple[list[Result], np.ndarray | None]:
    """Check and decode every file at ``image_size`` with one read each: ``(results, images)``,
    where row i of ``images`` (uint8 (N, H, W, channels); None unless ``keep``) is file i as
    training decodes it, when it is readable.

    ``known`` holds what an earlier scan found (None: nothing): a skipped file stays skipped
    unread; a checked one is only read and decoded (checked again if its size changed), and
    only when its pixels are kept. A result that is not ``known``'s object is new (the caller
    remembers it). ``sizes`` (bytes, from the caller's stat) bound the decode groups."""
    shape = (*image_size, channels)
    images = aligned_empty((len(paths), *shape)) if keep else None
    results: list[Result | None] = list(known)

    def work(group: list[int]) -> None:
        todo = []
        for index in group:
            if not keep and isinstance(known[index], ImageInfo):
                continue  # checked already, and nothing to keep
            read = read_for_decode(paths[index], known[index])
            if isinstance(read, SkippedFile):
                results[index] = read
            else:
                todo.append((index, paths[index], *read))
        for index, result in decode_group(todo, tuple(image_size), channels, images).items():
            results[index] = result

    # Few threads: the checks hold the GIL most of the time and each decode call runs on all
    # cores already; more threads only add switching (system time) on a small machine.
    workers = workers or min(8, max(2, (os.cpu_count() or 1) // 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        most = max(1, GROUP_PIXELS // int(np.prod(shape)))
        for _ in pool.map(work, grouped(len(paths), sizes, most)):
            pass  # raises the first worker error, if any
    return [result for result in results if result is not None], images


def grouped(count: int, sizes: Sequence[int], most: int) -> Iterator[list[int]]:
    """Consecutive file indices in groups of at most ``most`` and `GROUP_FILES` files and
    `GROUP_BYTES` bytes."""
    group: list[int] = []
    total = 0
    for index in range(count):
        group.append(index)
        total += max(0, sizes[index])
        if len(group) >= min(most, GROUP_FILES) or total >= GROUP_BYTES:
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
    todo: Todo, image_size: tuple[int, int], channels: int, images: np.ndarray | None
) -> dict[int, Result]:
    """Decode a group of files into their rows of ``images`` (None: check only), one
    TensorFlow call per branch the files take (`decode.batch_decoder`; `decoded`)."""
    by_branch: dict[int, Todo] = {}
    for item in todo:
        info = item[2]
        which = decode.branch(info.format, info.height, info.width, image_size, info.decoder)
        by_branch.setdefault(which, []).append(item)
    done: dict[int, Result] = {}
    for which, items in by_branch.items():
        done.update(decoded(items, which, image_size, channels, images))
    return done


def decoded(
    items: Todo, which: int, image_size: tuple[int, int], channels: int, images: np.ndarray | None
) -> dict[int, Result]:
    """Files of one branch decoded together; when that fails, each half again, down to the
    file that fails (`decode_one`): a bad file costs a few calls, not one per file."""
    run = decode.batch_decoder(image_size, channels, which)
    try:
        pixels = run(tf.constant([data for *_, data in items])).numpy()
    except tf.errors.OpError as refusal:
        if len(items) == 1:
            return {items[0][0]: decode_one(items[0], refusal, image_size, channels, images)}
        half = len(items) // 2
        done = decoded(items[:half], which, image_size, channels, images)
        return done | decoded(items[half:], which, image_size, channels, images)
    if images is not None:
        images[[index for index, *_ in items]] = pixels
    return {index: info for index, _, info, _ in items}


def decode_one(
    item: tuple[int, str, ImageInfo, bytes],
    refusal: tf.errors.OpError,
    size: tuple[int, int],
    channels: int,
    images: np.ndarray | None,
) -> Result:
    """A file its decoder refused (``refusal``): PIL's next when that was TensorFlow's (as
    `decode.choose_decoder` chooses); skipped, in PIL's words, when PIL cannot read it either."""
    index, path, info, data = item
    try:
        decode.pil_rgb(data)
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad files
        return SkippedFile(path, unreadable(error))
    if info.decoder == decode.TF:
        info = replace(info, decoder=decode.PIL)
        which = decode.branch(info.format, info.height, info.width, size, info.decoder)
        try:
            pixels = decode.batch_decoder(size, channels, which)(tf.constant([data]))
            if images is not None:
                images[index] = pixels[0]
            return info
        except tf.errors.OpError as error:
            refusal = error
    return SkippedFile(path, f"not a readable image: {decode.error_text(refusal)}")


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised uint8 array on a page boundary, which TensorFlow uses in place
    (`imgexp.dataset.pipeline.image_tensor`) instead of copying the whole cache. In 4 KB pages:
    numpy asks large arrays for huge pages, and here each fresh 2 MB page often waited on the
    kernel compacting memory (a 240 MB cache's first write: 0.46-1.09 s of system time, against
    0.30-0.42 s in 4 KB pages; benchmarks/README.md, section 7)."""
    count = int(np.prod(shape))
    if count and hasattr(mmap, "MADV_NOHUGEPAGE"):
        memory = mmap.mmap(-1, count, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        memory.madvise(mmap.MADV_NOHUGEPAGE)
        return np.frombuffer(memory, np.uint8).reshape(shape)
    raw = np.empty(count + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + count].reshape(shape)
