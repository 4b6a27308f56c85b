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
    # Folder datasets: files the scan could not decode ({"path", "reason"}), and the count of
    # non-image files (.DS_Store, notes) that were ignored.
    skipped: list[dict[str, str]] = field(default_factory=list)
    ignored_files: int = 0
    # The data audit (`imgexp.dataset.audit`): duplicates, overlaps, balance, image facts.
    audit: dict[str, object] = field(repr=False, default_factory=dict)

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
            "skipped_files": len(self.skipped),
            "ignored_files": self.ignored_files,
            "skipped": self.skipped,
        }

    def tags(self) -> dict[str, object]:
        """Short lineage facts as MLflow tags: searchable, and comparable between runs."""
        return (
            {"dataset": self.name, "dataset.digest": self.digest, "dataset.source": self.source}
            | {f"dataset.n_{split}": count for split, count in self.counts.items()}
            | {"dataset.n_classes": self.num_classes, "dataset.skipped_files": len(self.skipped)}
        )
