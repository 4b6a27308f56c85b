"""Turns a ``dataset`` config into a `DataBundle`: load, split, match channels, pipeline.

A loader (``dataset._target_``) returns either `ImageArrays` (in-memory datasets) or
`ImageFiles` (folders of image files); both are split by the same `splits.split_tables`."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass

import numpy as np
from hydra.utils import get_method
from omegaconf import DictConfig

from imgexp.dataset import decode, folder_batches, pipeline, splits
from imgexp.dataset.arrays import ImageArrays, match_channels
from imgexp.dataset.audit import audit_splits
from imgexp.dataset.bundle import DataBundle
from imgexp.dataset.files import FileTable, ImageFiles, digest_files
from imgexp.dataset.folder_batches import SAMPLE_SIZE

log = logging.getLogger(__name__)


@dataclass
class ArrayTable:
    """Images and labels indexed together (the `splits.Table` of in-memory datasets), with
    each row's index in the loader's ``array`` (how the data audit names an image)."""

    images: np.ndarray
    labels: np.ndarray
    origin: np.ndarray | None = None  # None: rows 0..N-1 of the array
    array: str = "x_train"

    def __post_init__(self) -> None:
        if self.origin is None:
            self.origin = np.arange(len(self.labels))

    def take(self, indices: np.ndarray) -> ArrayTable:
        return ArrayTable(
            self.images[indices], self.labels[indices], self.origin[indices], self.array
        )


def build_data(cfg: DictConfig, batch_size: int, seed: int) -> DataBundle:
    """Load the dataset named by ``cfg._target_`` and build its batched splits."""
    loaded = get_method(cfg._target_)(cfg)
    if isinstance(loaded, ImageArrays):
        bundle = bundle_from_arrays(cfg, loaded, batch_size, seed)
    elif isinstance(loaded, ImageFiles):
        bundle = bundle_from_files(cfg, loaded, batch_size, seed)
    else:
        raise TypeError(
            f"{cfg._target_} returned {type(loaded).__name__}, not ImageArrays or ImageFiles"
        )
    log.info(
        "dataset %s from %s: %s; classes %s",
        bundle.name,
        bundle.source,
        ", ".join(f"{split} {count}" for split, count in bundle.counts.items()),
        bundle.class_names,
    )
    return bundle


def bundle_from_arrays(
    cfg: DictConfig, data: ImageArrays, batch_size: int, seed: int
) -> DataBundle:
    """Split in-memory arrays as configured and wrap each split in a tf.data pipeline."""
    wanted = cfg.get("classes")
    x_train, y_train, x_test, y_test, class_names = select_classes(
        wanted, data.class_names, data.x_train, data.y_train, data.x_test, data.y_test
    )
    # The same selection of row numbers: each image's index in the loader's arrays.
    rows_train, _, rows_test, _, _ = select_classes(
        wanted, data.class_names, np.arange(len(data.y_train)), data.y_train,
        None if data.y_test is None else np.arange(len(data.y_test)), data.y_test,
    )  # fmt: skip
    test = None if x_test is None else ArrayTable(x_test, y_test, rows_test, "x_test")
    tables = splits.split_tables(cfg, ArrayTable(x_train, y_train, rows_train), test)
    tables = {
        split: dataclasses.replace(table, images=match_channels(table.images, cfg.color_mode))
        for split, table in tables.items()
    }
    train = tables["train"].images
    image_size = tuple(cfg.image_size) if cfg.get("image_size") else train.shape[1:3]

    def make(split: str):
        return pipeline.from_arrays(
            tables[split].images,
            tables[split].labels,
            batch_size,
            training=split == "train",
            seed=seed,
            shuffle_buffer=int(cfg.shuffle_buffer),
            image_size=image_size,
        )

    return DataBundle(
        name=cfg.name,
        source=data.source,
        class_names=class_names,
        input_shape=(int(image_size[0]), int(image_size[1]), int(train.shape[-1])),
        train=make("train"),
        validation=make("validation") if "validation" in tables else None,
        test=make("test"),
        counts=split_counts(tables),
        class_counts=split_class_counts(tables, class_names),
        digest=digest_arrays({s: (t.images, t.labels) for s, t in tables.items()}),
        sample=train[:SAMPLE_SIZE],
        adapt_data=train,
        audit=audit_of(cfg, tables, class_names, data.source),
    )


def bundle_from_files(cfg: DictConfig, data: ImageFiles, batch_size: int, seed: int) -> DataBundle:
    """Split the scanned files as configured; each split batches the images the scan decoded
    (``dataset.cache=memory``) or decodes, caches and batches itself."""
    tables: dict[str, FileTable] = splits.split_tables(
        cfg,
        data.splits["train"],
        data.splits.get("test"),
        data.splits.get("validation"),
        shuffle_before_take=True,
    )
    source = splits.validation_source(cfg)  # "cv" for a k-fold member
    if "validation" in data.splits and source != "dir":
        log.info("%s: the val/ folder is unused (dataset.validation.source=dir uses it)", cfg.name)
    image_size = (int(cfg.image_size[0]), int(cfg.image_size[1]))
    channels = decode.channels_of(cfg.color_mode)
    digest = digest_files(data.source, tables)
    if data.pixels is not None:
        make, sample, adapt = folder_batches.stored(data.pixels, tables, batch_size, seed, cfg)
    else:
        make, sample, adapt = folder_batches.decoded(cfg, tables, digest, batch_size, seed)
    skipped = [{"path": bad.path, "reason": bad.reason} for bad in data.skipped]
    return DataBundle(
        name=cfg.name,
        source=data.source,
        class_names=data.class_names,
        input_shape=(*image_size, channels),
        train=make("train"),
        validation=make("validation") if "validation" in tables else None,
        test=make("test"),
        counts=split_counts(tables),
        class_counts=split_class_counts(tables, data.class_names),
        digest=digest,
        sample=sample,
        # Normalization statistics: the training split only, through the same decode.
        adapt_data=adapt,
        skipped=skipped,
        ignored_files=data.ignored,
        audit=audit_of(cfg, tables, data.class_names, data.source, skipped, data.ignored),
    )


def audit_of(
    cfg: DictConfig, tables: dict, class_names: list[str], source: str, skipped=(), ignored=0
) -> dict[str, object]:
    """The data audit of the splits as built (`imgexp.dataset.audit`)."""
    return audit_splits(
        tables,
        class_names,
        split_class_counts(tables, class_names),
        source=source,
        validation_is_test=splits.validation_source(cfg) == "test",
        skipped=skipped,
        ignored=ignored,
    )


def split_counts(tables: dict[str, splits.Table]) -> dict[str, int]:
    return {split: len(table.labels) for split, table in tables.items()}


def split_class_counts(
    tables: dict[str, splits.Table], class_names: list[str]
) -> dict[str, dict[str, int]]:
    """Examples per class in each split (lineage, and a check that no class went missing)."""
    return {
        split: {
            class_names[k]: int(n)
            for k, n in enumerate(np.bincount(table.labels, minlength=len(class_names)))
        }
        for split, table in tables.items()
    }


def select_classes(
    wanted: list[str] | None, class_names: list[str], x_train, y_train, x_test, y_test
):
    """Keep only the ``classes:`` subset, relabelled 0..k-1 in the given order."""
    if not wanted:
        return x_train, y_train, x_test, y_test, list(class_names)
    unknown = [name for name in wanted if name not in class_names]
    if unknown:
        raise ValueError(f"dataset.classes: {unknown} not found; available classes: {class_names}")
    remap = np.full(len(class_names), -1)
    for new, name in enumerate(wanted):
        remap[class_names.index(name)] = new
    keep_train = remap[y_train] >= 0
    x_train, y_train = x_train[keep_train], remap[y_train[keep_train]]
    if x_test is not None:
        keep_test = remap[y_test] >= 0
        x_test, y_test = x_test[keep_test], remap[y_test[keep_test]]
    return x_train, y_train, x_test, y_test, list(wanted)


def digest_arrays(split_arrays: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """A content digest of every split (images and labels), to compare runs' data."""
    hasher = hashlib.sha256()
    for split in sorted(split_arrays):
        for array in split_arrays[split]:
            hasher.update(split.encode())
            hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()[:16]
