"""tf.data input pipelines: decode/resize -> cache -> shuffle -> batch -> prefetch (training
batches are augmented afterwards, imgexp/augmentation/layers.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from imgexp.dataset import decode
from imgexp.dataset.files import FileTable

AUTOTUNE = tf.data.AUTOTUNE


def from_arrays(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    shuffle_buffer: int,
    image_size: tuple[int, int] | None = None,
) -> tf.data.Dataset:
    """A batched dataset of uint8 images, every example once per epoch; shuffled (seeded,
    reshuffled each epoch) only when ``training`` (augmentation is mapped onto the training
    batches afterwards: imgexp/augmentation/layers.py).

    As for a folder the scan decoded, it shuffles and batches (row, label) pairs and gathers
    each batch's images from one tensor of them all (`gathered`): the same order as
    shuffling the images themselves with this seed and buffer, without copying every image
    into the shuffle buffer and again into its batch (that pipeline measured 0.89-0.92 of a
    materialised batch's speed with a small CNN, benchmarks/efficiency.py)."""
    if image_size is not None and tuple(images.shape[1:3]) != tuple(image_size):
        images = resized(images, image_size)
    rows = tf.data.Dataset.from_tensor_slices((np.arange(len(labels)), labels))
    buffer = min(shuffle_buffer, len(labels))
    batches = batch(rows, batch_size, training=training, seed=seed, shuffle_buffer=buffer)
    return gathered(batches, tf.constant(images))  # loaders' arrays may be read-only: no DLPack


def resized(images: np.ndarray, image_size: tuple[int, int], chunk: int = 1024) -> np.ndarray:
    """``images`` resized once, in chunks (bilinear, as Keras' loaders, rounded back to uint8)."""
    height, width = int(image_size[0]), int(image_size[1])
    out = np.empty((len(images), height, width, images.shape[-1]), np.uint8)
    for start in range(0, len(images), chunk):
        part = tf.image.resize(images[start : start + chunk], (height, width))
        out[start : start + chunk] = tf.cast(tf.clip_by_value(tf.round(part), 0, 255), tf.uint8)
    return out


def batch(
    dataset: tf.data.Dataset,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    shuffle_buffer: int,
) -> tf.data.Dataset:
    """The common tail of every pipeline (elements already decoded and cached)."""
    if training and shuffle_buffer > 1:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


def decoded_files(table: FileTable, image_size: tuple[int, int], channels: int) -> tf.data.Dataset:
    """(uint8 image, label) per file, decoded and resized in parallel, in file order: exactly one
    element per row, so a split yields the count the run logs.

    No ``ignore_errors``: the scan decoded every file once with the decoder it takes here and
    skipped (and counted) the ones that failed, so nothing is left to drop quietly. A file that
    changes or vanishes after the scan fails the pass with its path instead."""
    branches = [
        decode.branch(fmt, int(height), int(width), image_size, decoder)
        for fmt, (height, width), decoder in zip(
            table.formats, table.sizes, table.decoders, strict=True
        )
    ]
    dataset = tf.data.Dataset.from_tensor_slices(
        (table.paths.astype(str), np.asarray(branches, np.int32), table.nbytes, table.labels)
    )
    return dataset.map(decode.decoder(image_size, channels), num_parallel_calls=AUTOTUNE)


def image_tensor(pixels: np.ndarray) -> tf.Tensor:
    """The scan's decoded images (`ImageFiles.pixels`) as one tensor, in place when TensorFlow
    can share the array's memory (DLPack: 64-byte aligned, as the scan allocates it): a copy of
    the whole cache would double its memory for a moment and cost a second pass over it."""
    if pixels.ctypes.data % 64 == 0 and pixels.flags.c_contiguous:
        return tf.experimental.dlpack.from_dlpack(pixels.__dlpack__())
    return tf.constant(pixels)


def stored_rows(table: FileTable) -> tf.data.Dataset:
    """(row, label) per file of a split the scan decoded, in file order; `gathered` turns
    batches of them into images. Shuffling rows instead of images keeps the shuffle buffer
    tiny (a buffer of images would hold a second copy of the split) and gives the same order
    as shuffling the images would (the order depends on the seed and count alone)."""
    return tf.data.Dataset.from_tensor_slices((table.rows, table.labels))


def gathered(batches: tf.data.Dataset, images: tf.Tensor) -> tf.data.Dataset:
    """Batches of (rows, labels) as batches of (uint8 images, labels), read from ``images``."""

    @tf.autograph.experimental.do_not_convert  # nothing to convert; tracing is faster
    def gather(rows: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.gather(images, rows), labels

    # No default tf.data optimizations here: they rewrite the dataset's graph when an iterator
    # is made, and serialising that graph copies ``images``, a constant in it (the whole cache:
    # 60k page faults and 0.2-0.5 s per split on this VM, measured). Nothing is lost: this
    # pipeline sets its own parallelism and prefetching, the rewrites' main work.
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    return batches.map(gather, num_parallel_calls=AUTOTUNE).with_options(options)


def cached(dataset: tf.data.Dataset, cache: str | None, file_prefix: str) -> tf.data.Dataset:
    """``cache: memory`` keeps decoded images in RAM; a directory keeps them in files named
    ``file_prefix`` there (for datasets bigger than RAM; reused by later runs, since the prefix
    holds the data digest and image size); empty or null disables caching."""
    if not cache:
        return dataset
    if cache == "memory":
        return dataset.cache()
    directory = Path(cache).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    return dataset.cache(str(directory / file_prefix))
