"""Train/validation/test splits of in-memory arrays, the way the articles make them."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from omegaconf import DictConfig


def split_count(size: float, total: int, what: str) -> int:
    """``size`` >= 1 is a count, 0 < size < 1 a fraction of ``total``."""
    count = int(size) if size >= 1 else int(round(size * total))
    if not 0 < count < total:
        raise ValueError(
            f"{what}={size} gives {count} of {total} examples; use a count in 1..{total - 1} "
            "or a fraction between 0 and 1"
        )
    return count


def take_indices(total: int, count: int, take: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, taken) index arrays: the first, last or a seeded random ``count`` examples."""
    order = np.arange(total)
    if take == "random":
        order = np.random.default_rng(seed).permutation(total)
    elif take == "last":
        order = np.concatenate([order[total - count :], order[: total - count]])
    taken, kept = order[:count], order[count:]
    return np.sort(kept), np.sort(taken)


def stratified_holdout(
    labels: np.ndarray, size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) indices, stratified by class (scikit-learn)."""
    from sklearn.model_selection import train_test_split

    count = split_count(size, len(labels), "dataset.test_size")
    kept, held = train_test_split(
        np.arange(len(labels)), test_size=count, random_state=seed, stratify=labels
    )
    return np.sort(kept), np.sort(held)


def validation_indices(
    labels: np.ndarray, validation: DictConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices of the training arrays for ``validation.source=train``."""
    count = split_count(float(validation.size), len(labels), "dataset.validation.size")
    # Enum options are `str` subclasses, so they compare equal to their names.
    return take_indices(len(labels), count, validation.take, int(validation.seed))


def fold_indices(
    labels: np.ndarray, folds: int, fold: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices of fold ``fold`` of a stratified, seeded k-fold split
    (scikit-learn's StratifiedKFold): the k validation folds are disjoint and cover every
    example."""
    from sklearn.model_selection import StratifiedKFold

    if not 0 <= fold < folds:
        raise ValueError(
            f"dataset.cv.fold={fold} is not a fold of dataset.cv.folds={folds}: use 0..{folds - 1}"
        )
    counts = np.bincount(labels)
    small = [int(k) for k in np.flatnonzero((counts > 0) & (counts < folds))]
    if small:
        raise ValueError(
            f"dataset.cv.folds={folds}: classes {small} have fewer than {folds} training "
            f"examples ({counts[small].tolist()}); use fewer folds"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    kept, held = list(splitter.split(np.zeros(len(labels)), labels))[fold]
    return np.sort(kept), np.sort(held)


def validation_source(cfg: DictConfig) -> str:
    """Where validation comes from: ``cv`` (a k-fold member) or ``dataset.validation.source``."""
    cv = cfg.get("cv")
    return "cv" if cv is not None and cv.fold is not None else cfg.validation.source


class Table(Protocol):
    """Anything with per-example labels that can be indexed (arrays or image files)."""

    labels: np.ndarray

    def take(self, indices: np.ndarray) -> Table: ...


def split_tables(
    cfg: DictConfig,
    train: Table,
    test: Table | None,
    validation_dir: Table | None = None,
    shuffle_before_take: bool = False,
) -> dict[str, Table]:
    """Train / validation / test as the config says; the three never share an example.

    Without a test split a stratified ``dataset.test_size`` is held out (fixed seed, so every
    run of a dataset tests on the same examples). ``shuffle_before_take`` makes take first/last
    apply to a seeded shuffle (folder datasets: their files are sorted by class, so the last
    N would be whole classes; keras' ``validation_split`` shuffles the same way). A k-fold
    member (``cv.fold`` set) validates on that fold of the training split instead."""
    if test is None or len(test.labels) == 0:
        kept, held = stratified_holdout(train.labels, float(cfg.test_size), seed=0)
        train, test = train.take(kept), train.take(held)
    tables: dict[str, Table] = {"test": test}
    source = validation_source(cfg)
    if source == "cv":  # a k-fold member: its fold of the training split validates
        cv = cfg.cv
        kept, held = fold_indices(train.labels, int(cv.folds), int(cv.fold), int(cv.seed))
        return {"train": train.take(kept), "validation": train.take(held), "test": test}
    if source == "train":
        order = np.arange(len(train.labels))
        if shuffle_before_take:
            order = np.random.default_rng(int(cfg.validation.seed)).permutation(order)
        kept, taken = validation_indices(train.labels[order], cfg.validation)
        train, tables["validation"] = (
            train.take(np.sort(order[kept])),
            train.take(np.sort(order[taken])),
        )
    elif source == "test":
        tables["validation"] = test
    elif source == "dir":
        if validation_dir is None or len(validation_dir.labels) == 0:
            raise ValueError(
                f"dataset.validation.source=dir needs a folder dataset with a val/ directory "
                f"next to train/; {cfg.name} has none: use train, test or none"
            )
        tables["validation"] = validation_dir
    order = ("train", "validation", "test")
    return {"train": train} | {split: tables[split] for split in order if split in tables}
