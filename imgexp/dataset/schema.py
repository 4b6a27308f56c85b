"""Typed schema of the ``dataset`` config group (checked by Hydra before TensorFlow loads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from omegaconf import MISSING


class ValidationSource(str, Enum):
    """Where the validation examples come from."""

    train = "train"  # carved out of the training split (take/size/seed)
    dir = "dir"  # a separate `val/` folder of an image-folder dataset
    test = "test"  # evaluate on the test split every epoch (seed 004)
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
    """How the validation split is made. ``size`` >= 1 is a count, < 1 a fraction of train."""

    source: ValidationSource = ValidationSource.train
    take: Take = Take.last
    size: float = 0.1
    seed: int = 0


@dataclass
class CrossValidationConfig:
    """Stratified k-fold cross-validation on the training split (the test split is never
    touched). ``folds: k`` (>= 2) makes one job train k members, member i validating on fold i
    (imgexp/crossval.py); ``fold: i`` is what each member runs, and runs fold i alone. It
    replaces ``validation``: the folds are drawn from train + what would be validation."""

    folds: int = 0  # 0 or 1: off
    fold: int | None = None
    seed: int = 0


@dataclass
class DatasetConfig:
    """One dataset: a loader (`_target_`) plus how to split and preprocess it."""

    _target_: str = MISSING
    name: str = MISSING
    data_dir: str | None = None
    download: bool = False
    image_size: list[int] | None = None
    color_mode: ColorMode = ColorMode.rgb
    classes: list[str] | None = None
    # Fraction held out (stratified, seeded) as the test split when the source has none.
    test_size: float = 0.2
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    cv: CrossValidationConfig = field(default_factory=CrossValidationConfig)
    preprocessing: Preprocessing = Preprocessing.rescale
    normalize: bool = False
    # Keep decoded examples after the first epoch: "memory", a directory (file cache for data
    # bigger than RAM, reused by later runs), or "" / null for none.
    cache: str | None = "memory"
    shuffle_buffer: int = 10000
    # Folder datasets: fail on the first unreadable image instead of skipping and counting it.
    strict: bool = False
