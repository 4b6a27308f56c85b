"""One pass of a model over a labelled split: true labels, class probabilities, and a few images
for the sample grid (misclassified ones first), without holding the whole split in memory."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from imgexp.tracking.interrupts import raise_if_stopping


@dataclass
class Predictions:
    """What a model predicted on a split, in the split's order."""

    labels: np.ndarray  # (N,) int true labels
    probabilities: np.ndarray  # (N, K) float32 softmax outputs
    sample_images: np.ndarray  # (M, H, W, C) uint8, misclassified first
    sample_indices: np.ndarray  # (M,) positions of the sample images in ``labels``

    @property
    def predicted(self) -> np.ndarray:
        """The most probable class of every example."""
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """The probability of the predicted class."""
        return self.probabilities.max(axis=1)


def predict_split(
    model: keras.Model, dataset: tf.data.Dataset, num_samples: int = 25
) -> Predictions:
    """Run ``model`` over batches of ``(uint8 images, int labels)``; keep at most ``num_samples``
    misclassified and ``num_samples`` correct images (the first ones met) for the grid."""
    labels: list[np.ndarray] = []
    probabilities: list[np.ndarray] = []
    kept: dict[bool, list[tuple[int, np.ndarray]]] = {True: [], False: []}  # key: correct?
    offset = 0
    forward = model.predict_on_batch
    if isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Keras' predict_on_batch would return every worker's copy of the batch, gathered
        forward = tf.function(lambda images: model(images, training=False))
    for images, batch_labels in dataset:
        raise_if_stopping()  # Ctrl-C/SIGTERM stop between batches (see tracking.interrupts)
        batch_probabilities = np.asarray(forward(images), np.float32)
        batch_labels = np.asarray(batch_labels).astype(np.int64).reshape(-1)
        correct = batch_probabilities.argmax(axis=1) == batch_labels
        for position in range(len(batch_labels)):
            bucket = kept[bool(correct[position])]
            if len(bucket) < num_samples:
                bucket.append((offset + position, np.asarray(images[position])))
        labels.append(batch_labels)
        probabilities.append(batch_probabilities)
        offset += len(batch_labels)
    if not labels:
        raise ValueError("the split to evaluate is empty")
    chosen = (kept[False] + kept[True])[:num_samples]
    return Predictions(
        labels=np.concatenate(labels),
        probabilities=np.concatenate(probabilities),
        sample_images=np.stack([image for _, image in chosen]),
        sample_indices=np.array([index for index, _ in chosen], dtype=np.int64),
    )


def regularization_loss(model: keras.Model) -> float:
    """The weight penalties Keras adds to the compiled loss (0 without regularizers), so that a
    loss computed from predictions equals what ``model.evaluate`` reports."""
    return float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses))
