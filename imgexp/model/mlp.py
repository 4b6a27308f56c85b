"""Multi-layer perceptron (Flatten -> Dense 300 -> Dense 100 -> Dense classes in "Building an
image classifier using Keras and TensorFlow",
https://medium.com/analytics-vidhya/building-image-classifier-using-keras-and-tensorflow-fef21c54732a)."""

from __future__ import annotations

import keras


def build(
    inputs: keras.KerasTensor,
    num_classes: int,
    name: str = "mlp",
    hidden_units: list[int] = (300, 100),
    activation: str = "relu",
    dropout: float = 0.0,
) -> keras.KerasTensor:
    """Class logits of an MLP over the flattened image."""
    features = keras.layers.Flatten(name="flatten")(inputs)
    for index, units in enumerate(hidden_units):
        features = keras.layers.Dense(units, activation=activation, name=f"dense_{index}")(
            features
        )
        if dropout:
            features = keras.layers.Dropout(dropout, name=f"dropout_{index}")(features)
    return keras.layers.Dense(num_classes, name="logits")(features)
