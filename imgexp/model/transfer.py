"""Transfer learning: a ``keras.applications`` backbone (global-average-pooled features) with a
new head. ``weights: imagenet`` uses Keras' weight cache (~/.keras/models) or the network, and
fails with advice when neither has them; ``weights: null`` starts from random weights."""

from __future__ import annotations

import keras

from imgexp.errors import WeightsNotFoundError

BACKBONE_LAYER = "backbone"


def backbone_class(backbone: str):
    """The keras.applications constructor named ``backbone`` (a clear error otherwise)."""
    constructor = getattr(keras.applications, backbone, None)
    if not callable(constructor) or not backbone[:1].isupper():
        available = sorted(n for n in dir(keras.applications) if n[:1].isupper())
        raise ValueError(f"model.backbone={backbone!r} is not in keras.applications: {available}")
    return constructor


def load_backbone(backbone: str, weights: str | None, input_shape: tuple[int, ...]):
    """Build the backbone without its top; say what to do when ImageNet weights are missing."""
    if input_shape[-1] != 3:
        raise ValueError(
            f"model.backbone={backbone} needs 3-channel images, the dataset gives "
            f"{input_shape[-1]}: set dataset.color_mode=rgb"
        )
    try:
        return backbone_class(backbone)(
            include_top=False, weights=weights, input_shape=input_shape, pooling="avg"
        )
    except ValueError:
        raise
    except Exception as error:  # noqa: BLE001 - keras' downloader raises plain Exception
        raise WeightsNotFoundError(
            f"model.weights={weights} for {backbone}: the weights are neither in "
            f"~/.keras/models nor downloadable ({error}). Put the .h5 file there, or use "
            "model.weights=null to train from scratch."
        ) from error


def build(
    inputs: keras.KerasTensor,
    num_classes: int,
    name: str = "transfer",
    backbone: str = "MobileNetV2",
    weights: str | None = None,
    freeze: bool = False,
    input_scale: float = 1.0,
    input_offset: float = 0.0,
    dropout: float = 0.2,
    dense_units: int = 0,
) -> keras.KerasTensor:
    """Class logits; a frozen backbone also keeps its BatchNorm in inference mode."""
    features = inputs
    if input_scale != 1.0 or input_offset != 0.0:
        features = keras.layers.Rescaling(input_scale, input_offset, name="backbone_scale")(
            features
        )
    base = load_backbone(backbone, weights, tuple(inputs.shape[1:]))
    base.name = BACKBONE_LAYER
    base.trainable = not freeze
    # training=False: BatchNorm statistics stay those of pretraining, even after unfreezing
    # (the fine-tuning recipe of the Keras transfer-learning guide).
    features = base(features, training=False)
    if dense_units:
        features = keras.layers.Dense(dense_units, activation="relu", name="head_dense")(features)
    if dropout:
        features = keras.layers.Dropout(dropout, name="head_dropout")(features)
    return keras.layers.Dense(num_classes, name="logits")(features)
