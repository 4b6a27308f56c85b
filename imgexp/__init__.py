"""imgexp: config-driven image-classification experiments (Hydra + Keras 3 + tf.data + MLflow).

``imgexp.train("experiment=fashion_mnist_mlp", "trainer.epochs=2")`` trains from Python; the
``imgexp`` console script does the same from the shell. Importing this package is cheap:
TensorFlow loads only when training starts."""

from __future__ import annotations

__version__ = "0.1.0"


def train(*overrides: str, **kwargs):
    """Compose the config from ``overrides`` and train; see `imgexp.api.train`."""
    from imgexp.api import train as _train

    return _train(*overrides, **kwargs)
