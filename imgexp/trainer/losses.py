"""Loss and accuracy that accept integer labels and one-hot/soft labels alike: label smoothing
and MixUp/CutMix train on soft labels while validation and test keep integer labels, and both
must report under the same names (``loss``, ``accuracy``)."""

from __future__ import annotations

import keras
from keras import ops


def as_one_hot(y_true, y_pred):
    """Integer labels ``(batch,)``/``(batch, 1)`` -> one-hot like ``y_pred``; soft labels as is."""
    classes = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == classes and classes != 1:
        return ops.cast(y_true, y_pred.dtype)
    labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    return ops.one_hot(labels, classes, dtype=y_pred.dtype)


@keras.saving.register_keras_serializable(package="imgexp")
class CrossEntropy(keras.losses.Loss):
    """Categorical cross-entropy on probabilities, with optional label smoothing."""

    def __init__(
        self,
        label_smoothing: float = 0.0,
        name: str = "cross_entropy",
        reduction: str = "sum_over_batch_size",
        dtype=None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        """Per-example loss."""
        return keras.losses.categorical_crossentropy(
            as_one_hot(y_true, y_pred), y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict:
        """Serializable arguments."""
        return super().get_config() | {"label_smoothing": self.label_smoothing}


def accuracy(y_true, y_pred):
    """Top-1 accuracy against the (arg)max label."""
    labels = ops.argmax(as_one_hot(y_true, y_pred), axis=-1)
    return ops.cast(ops.equal(labels, ops.argmax(y_pred, axis=-1)), "float32")


@keras.saving.register_keras_serializable(package="imgexp")
class Accuracy(keras.metrics.MeanMetricWrapper):
    """``accuracy`` for integer and one-hot/soft labels."""

    def __init__(self, name: str = "accuracy", dtype=None) -> None:
        super().__init__(fn=accuracy, name=name, dtype=dtype)

    def get_config(self) -> dict:
        """Serializable arguments."""
        return {"name": self.name, "dtype": self.dtype}
