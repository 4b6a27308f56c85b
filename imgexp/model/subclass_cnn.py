"""The subclassed ``keras.Model`` of "Using TensorFlow 2.0 to build a CNN for image
classification"
(https://medium.com/analytics-vidhya/using-tensorflow-2-0-to-build-a-cnn-for-image-classification-4e50848ce1c0),
registered as serializable so that the model MLflow logs reloads (an unregistered subclass
fails with "Could not locate class")."""

from __future__ import annotations

from collections.abc import Sequence

import keras


@keras.saving.register_keras_serializable(package="imgexp")
class SubclassCNN(keras.Model):
    """32c3-pool-32c3-pool-32c5s2-BN-Dropout-Dense128-Dense(classes), returning logits.

    The article ends in a softmax and then tells the loss ``from_logits=True``; here the body
    returns logits and ``build_model`` adds the one softmax (in float32)."""

    def __init__(
        self,
        num_classes: int,
        filters: Sequence[int] = (32, 32, 32),
        kernel_sizes: Sequence[int] = (3, 3, 5),
        dense_units: int = 128,
        dropout: float = 0.4,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if len(filters) != 3 or len(kernel_sizes) != 3:
            raise ValueError(
                f"subclass_cnn has exactly three convolutions; got model.filters={list(filters)}"
                f" and model.kernel_sizes={list(kernel_sizes)}"
            )
        self.num_classes = int(num_classes)
        self.filters = [int(f) for f in filters]
        self.kernel_sizes = [int(k) for k in kernel_sizes]
        self.dense_units = int(dense_units)
        self.dropout_rate = float(dropout)
        self.conv1 = keras.layers.Conv2D(self.filters[0], self.kernel_sizes[0], activation="relu")
        self.conv2 = keras.layers.Conv2D(self.filters[1], self.kernel_sizes[1], activation="relu")
        self.conv3 = keras.layers.Conv2D(
            self.filters[2], self.kernel_sizes[2], strides=2, activation="relu"
        )
        self.pool = keras.layers.MaxPooling2D(2)
        self.batchnorm = keras.layers.BatchNormalization()
        self.dropout = keras.layers.Dropout(self.dropout_rate)
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(self.dense_units, activation="relu")
        self.logits = keras.layers.Dense(self.num_classes)

    def call(self, inputs, training: bool = False):
        """Forward pass; Keras' Dropout is already active only when ``training`` is true."""
        features = self.pool(self.conv1(keras.ops.cast(inputs, self.compute_dtype)))
        features = self.pool(self.conv2(features))
        features = self.batchnorm(self.conv3(features), training=training)
        features = self.dropout(features, training=training)
        return self.logits(self.hidden(self.flatten(features)))

    def get_config(self) -> dict:
        """Constructor arguments, so ``keras.models.load_model`` can rebuild the model."""
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "filters": self.filters,
            "kernel_sizes": self.kernel_sizes,
            "dense_units": self.dense_units,
            "dropout": self.dropout_rate,
        }


def build(
    inputs: keras.KerasTensor,
    num_classes: int,
    name: str = "subclass_cnn",
    filters: Sequence[int] = (32, 32, 32),
    kernel_sizes: Sequence[int] = (3, 3, 5),
    dense_units: int = 128,
    dropout: float = 0.4,
) -> keras.KerasTensor:
    """Class logits of the subclassed model, nested in the functional wrapper."""
    body = SubclassCNN(
        num_classes, list(filters), list(kernel_sizes), dense_units, dropout, name=f"{name}_body"
    )
    return body(inputs)
