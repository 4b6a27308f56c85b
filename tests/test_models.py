"""Model builders: the articles' architectures and parameter counts, the subclassed model's
save/load round trip, the ResNet depth and the transfer backbone's freezing."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from hydra.errors import InstantiationException

from imgexp.api import compose_config
from imgexp.model.build import build_model


def build(option: str, shape: tuple[int, int, int], classes: int, *overrides: str):
    """The model of ``model=<option>`` on raw uint8 input of ``shape`` (no preprocessing)."""
    cfg = compose_config(f"model={option}", *overrides)
    return build_model(cfg.model, shape, classes, [])


def test_five_conv_cnn_has_the_notebooks_229285_parameters() -> None:
    model = build("five_conv_cnn", (200, 200, 3), 5)
    # The flowers model in the notebook of "A single function to streamline image classification
    # with Keras" (https://towardsdatascience.com/a-single-function-to-streamline-image-classification-with-keras-bd04f5cfe6df).
    assert model.count_params() == 229_285
    assert model.get_layer("flatten").output.shape[1:] == (4 * 4 * 64,)


def test_simple_cnn_is_seed_002s_network() -> None:
    model = build("simple_cnn", (224, 224, 3), 2)
    # Conv32 (896) + Conv64 (18,496) + Dense(56*56*64 -> 2) (401,410); no hidden Dense.
    assert model.count_params() == 896 + 18_496 + 401_410
    assert [layer.name for layer in model.layers if "dense" in layer.name] == []


def test_functional_cnn_is_seed_000s_network() -> None:
    model = build("functional_cnn", (32, 32, 3), 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size[0]) for c in convs] == [
        (32, 3), (64, 3), (128, 5), (256, 5), (512, 3), (512, 5),
    ]  # fmt: skip
    assert model.get_layer("pool_5").output.shape[1:] == (8, 8, 512)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 6 + 2  # after every conv, after Dense1024 and Dense512
    # convs 8,778,048 + conv BN 6,016 + dense 34,147,210 + dense BN 6,144
    assert model.count_params() == 42_937_418


def test_mismatched_functional_cnn_lists_are_named() -> None:
    with pytest.raises(InstantiationException, match="conv_kernels"):
        build("functional_cnn", (32, 32, 3), 10, "model.conv_kernels=[3]")


def test_subclass_cnn_reloads_and_drops_out_only_in_training(tmp_path: Path) -> None:
    model = build("subclass_cnn", (28, 28, 1), 10)
    # conv 320 + 9,248 + 25,632, BN 128, Dense128 4,224, Dense10 1,290
    assert model.count_params() == 40_842
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype(np.uint8)
    training = keras.ops.convert_to_numpy(model(images, training=True))  # moves BN statistics
    inference = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), inference)
    assert not np.allclose(training, inference)  # dropout (and batch statistics) in training
    path = tmp_path / "subclass.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded.get_layer("subclass_cnn_body")).__name__ == "SubclassCNN"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(images)), inference, rtol=1e-5, atol=1e-6
    )


def test_resnet_default_is_resnet20() -> None:
    model = build("resnet", (32, 32, 3), 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    three_by_three = [c for c in convs if c.kernel_size == (3, 3)]
    assert len(three_by_three) + 1 == 20  # 19 convs + the classifier = ResNet-20
    assert model.get_layer("pool").input.shape[1:] == (8, 8, 64)


def test_transfer_freezes_the_backbone_and_checks_channels() -> None:
    model = build("transfer", (32, 32, 3), 3, "model.weights=null", "model.freeze=true")
    backbone = model.get_layer("backbone")
    assert not backbone.trainable
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 1280 * 3 + 3  # only the new head
    with pytest.raises(InstantiationException, match="color_mode=rgb"):
        build("transfer", (32, 32, 1), 3, "model.weights=null")
    with pytest.raises(InstantiationException, match="MobileNetV2"):
        build("transfer", (32, 32, 3), 3, "model.backbone=NoSuchNet")
