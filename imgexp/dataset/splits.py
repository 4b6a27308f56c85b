"""Train/validation/test splits of in-memory arrays, the way the articles make them."""

from __future__ import annotations

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
