"""What a dataset hands to the model and trainer: batched splits plus lineage facts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf


@dataclass
class DataBundle:
    """Batched uint8 splits and what a run logs about them."""

    name: str
    source: str
    class_names: list[str]
    input_shape: tuple[int, int, int]
    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset
    counts: dict[str, int]
    class_counts: dict[str, dict[str, int]]
    digest: str
    # A few raw training images: input example for the logged model, data for adapt().
    sample: np.ndarray = field(repr=False, default=None)
    # Raw training images (or a dataset of them) that Normalization layers adapt to.
    adapt_data: object = field(repr=False, default=None)

    @property
    def num_classes(self) -> int:
        """Number of classes the model predicts."""
        return len(self.class_names)

    def lineage(self) -> dict[str, object]:
        """The dataset facts logged with every run."""
        return {
            "name": self.name,
            "source": self.source,
            "digest": self.digest,
            "input_shape": list(self.input_shape),
            "class_names": self.class_names,
            "counts": self.counts,
            "class_counts": self.class_counts,
        }
