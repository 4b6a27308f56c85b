"""Typed schema of the ``dataset`` config group (checked by Hydra before TensorFlow loads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

from imgexp.config_checks import SEED, SPLIT_SIZE, count, each, optional, ranged


class ValidationSource(str, Enum):
    """Where the validation examples come from."""

    train = "train"  # carved out of the training split (take/size/seed)
    dir = "dir"  # a separate `val/` folder of an image-folder dataset
    # Evaluate on the test split every epoch, as "Using TensorFlow 2.0 to build a CNN for image
    # classification" does (https://medium.com/analytics-vidhya/using-tensorflow-2-0-to-build-a-cnn-for-image-classification-4e50848ce1c0).
    test = "test"
    none = "none"  # no validation


class Take(str, Enum):
    """Which training examples become the validation set."""

    first = "first"
    last = "last"
    random = "random"


class Preprocessing(str, Enum):
    """Pixel preprocessing, built into the model so it travels with it."""

    rescale = "rescale"  # pixels / 255 -> [0, 1]
    vgg16 = "vgg16"  # keras.applications.vgg16.preprocess_input (BGR, mean-centred)
    none = "none"  # raw 0..255 floats


class ColorMode(str, Enum):
    """Channel handling of decoded images."""

    rgb = "rgb"
    grayscale = "grayscale"


@dataclass
class ValidationConfig:
    """How the validation split is made. ``size``: an integer count (40), or a fraction of
    train in (0, 1) (0.1); 2.0 is neither."""

    source: ValidationSource = ValidationSource.train
    take: Take = Take.last
    size: Any = ranged(0.1, SPLIT_SIZE)  # Any: 40 (a count) and 0.4 (a fraction) stay apart
    seed: int = ranged(0, SEED)


@dataclass
class CrossValidationConfig:
    """Stratified k-fold cross-validation on the training split (the test split is never
    touched). ``folds: k`` (>= 2) makes one job train k members, member i validating on fold i
    (imgexp/groups/in_job.py); ``fold: i`` is what each member runs, and runs fold i alone. It
    replaces ``validation``: the folds are drawn from train + what would be validation."""

    folds: int = ranged(0, count(0))  # 0 or 1: off
    fold: int | None = ranged(None, optional(count(0)))
    seed: int = ranged(0, SEED)


@dataclass
class DatasetConfig:
    """One dataset: a loader (`_target_`) plus how to split and preprocess it."""

    _target_: str = MISSING
    name: str = MISSING
    data_dir: str | None = None
    download: bool = False
    # download=true fetches <mirror>/<published file name> instead of the published URL
    # (a proxy or internal mirror); unset: $IMGEXP_DATA_MIRROR, else the publisher.
    mirror: str | None = None
    # Expected SHA-256 by published file name, replacing the checksum pinned in code (a mirror
    # serving other bytes): dataset.sha256={cifar-10-python.tar.gz:<hex>}.
    sha256: Any = None  # {file name: hex}; Any, since a typed empty dict takes no new keys
    image_size: list[int] | None = ranged(None, optional(each(count(1), length=2)))
    color_mode: ColorMode = ColorMode.rgb
    classes: list[str] | None = None
    # Held out (stratified, seeded) as the test split when the source has none: a count or a
    # fraction, as validation.size.
    test_size: Any = ranged(0.2, SPLIT_SIZE)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    cv: CrossValidationConfig = field(default_factory=CrossValidationConfig)
    preprocessing: Preprocessing = Preprocessing.rescale
    normalize: bool = False
    # Keep decoded examples after the first epoch: "memory", a directory (file cache for data
    # bigger than RAM, reused by later runs), or "" / null for none.
    cache: str | None = "memory"
    shuffle_buffer: int = ranged(10000, count(0))  # 0 or 1: no shuffling
    # Folder datasets: fail on the first unreadable image instead of skipping and counting it.
    strict: bool = False
