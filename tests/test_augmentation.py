"""Augmentation: the IDG -> layer mapping, training split only, seeded, mixing, placement."""

from __future__ import annotations

import keras
import mlflow
import numpy as np
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient

import imgexp
from imgexp.api import compose_config
from imgexp.augmentation.layers import (
    augment_training,
    augmentation_layers,
    model_augmentation,
    pipeline_augment,
)
from imgexp.dataset.build import build_data
from imgexp.errors import ConfigError

SYNTHETIC = ("dataset=synthetic", "dataset.image_size=[16,16]", "dataset.classes=[a,b,c,d]")
TINY_RUN = ("model.hidden_units=[8]", "trainer.epochs=1", "trainer.steps_per_epoch=2",
            "trainer.verbose=0")  # fmt: skip


def bundle(*overrides: str):
    """The synthetic dataset's splits with the given augmentation overrides."""
    cfg = compose_config(*SYNTHETIC, *overrides)
    keras.utils.set_random_seed(0)
    return augment_training(cfg.augmentation, build_data(cfg.dataset, 8, seed=0))


def batches(dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def test_flip_shift_rotate_is_seed_000s_image_data_generator() -> None:
    cfg = compose_config("augmentation=flip_shift_rotate")
    layers = augmentation_layers(cfg.augmentation)
    assert [type(layer) for layer in layers] == [
        keras.layers.RandomRotation, keras.layers.RandomTranslation, keras.layers.RandomFlip,
    ]  # fmt: skip
    rotation, translation, flip = layers  # the built layers, as Keras will apply them
    # rotation_range=20 (degrees, either way): Keras takes fractions of a full turn.
    assert [bound * 360 for bound in rotation.factor] == pytest.approx([-20, 20])
    assert (translation.height_factor, translation.width_factor) == (0.2, 0.2)  # shift_range
    assert flip.mode == "horizontal"  # horizontal_flip=True
    assert rotation.fill_mode == translation.fill_mode == "nearest"  # IDG's default fill


def test_only_training_batches_change_and_a_seed_fixes_them() -> None:
    plain = bundle("augmentation=none")
    first = bundle("augmentation=flip_shift_rotate", "augmentation.seed=1")
    again = bundle("augmentation=flip_shift_rotate", "augmentation.seed=1")
    other = bundle("augmentation=flip_shift_rotate", "augmentation.seed=2")
    for split in ("validation", "test"):
        for (x0, y0), (x1, y1) in zip(
            batches(getattr(plain, split)), batches(getattr(first, split)), strict=True
        ):
            np.testing.assert_array_equal(x0, x1)
            np.testing.assert_array_equal(y0, y1)
    train = [batches(b.train) for b in (plain, first, again, other)]
    for (x0, y0), (x1, y1), (x2, _), (x3, _) in zip(*train, strict=True):
        np.testing.assert_array_equal(y0, y1)  # same shuffle, labels untouched
        assert not np.array_equal(x0, x1)  # augmented
        np.testing.assert_array_equal(x1, x2)  # same seed, same transform
        assert not np.array_equal(x1, x3)  # another seed, another transform


def test_flip_crop_moves_images_by_whole_pixels() -> None:
    plain, cropped = bundle("augmentation=none"), bundle("augmentation=flip_crop")
    (x0, _), (x1, _) = batches(plain.train)[0], batches(cropped.train)[0]
    for original, moved in zip(x0.astype(int), x1.astype(int), strict=True):
        candidates = [original, original[:, ::-1]]
        matches = []
        for image in candidates:
            padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))  # 0.125 * 16 = 2 pixels
            matches += [
                np.array_equal(padded[2 + dy : 18 + dy, 2 + dx : 18 + dx], moved)
                for dy in range(-2, 3) for dx in range(-2, 3)
            ]  # fmt: skip
        assert any(matches)  # exactly a zero-padded crop of the (possibly flipped) image


@pytest.mark.parametrize("option", ["mixup", "cutmix"])
def test_mixing_makes_soft_training_labels_only(option: str) -> None:
    data = bundle(f"augmentation={option}", "augmentation.seed=0")
    labels = np.concatenate([y for _, y in batches(data.train)])
    assert labels.shape[1] == 4
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-5)
    assert np.any((labels > 0.01) & (labels < 0.99))  # some labels are mixtures
    for _, y in batches(data.validation):
        assert y.ndim == 1  # validation keeps integer labels


def test_model_placement_is_identity_at_inference() -> None:
    cfg = compose_config("augmentation=flip_shift_rotate", "augmentation.placement=model")
    assert pipeline_augment(cfg.augmentation) is None
    stack = keras.Sequential(model_augmentation(cfg.augmentation))
    images = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    inference = stack(images, training=False)  # what predict/evaluate call
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(inference), images)
    assert not np.array_equal(keras.ops.convert_to_numpy(stack(images, training=True)), images)


NEW_OPTIONS = {
    "randaugment": keras.layers.RandAugment,
    "augmix": keras.layers.AugMix,
    "random_erasing": keras.layers.RandomErasing,
}


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("option", sorted(NEW_OPTIONS))
def test_new_options_keep_pixels_in_0_255_on_gray_and_rgb(option: str, channels: int) -> None:
    color = "grayscale" if channels == 1 else "rgb"
    cfg = compose_config(*SYNTHETIC, f"augmentation={option}", f"dataset.color_mode={color}")
    (layer,) = augmentation_layers(cfg.augmentation)
    assert isinstance(layer, NEW_OPTIONS[option])
    assert tuple(layer.value_range) == (0, 255)  # the raw uint8 pixels either placement sees
    images = np.random.default_rng(0).integers(0, 256, (16, 16, 16, channels)).astype("float32")
    for _ in range(5):
        out = keras.ops.convert_to_numpy(layer(images, training=True))
        assert out.shape == images.shape
        assert out.min() >= 0 and out.max() <= 255 + 1e-3  # no unclipped overshoot to hide
    assert not np.allclose(out, images)


@pytest.mark.parametrize("option", sorted(NEW_OPTIONS))
def test_new_options_same_seed_same_batches(option: str) -> None:
    # Another seed, another transform: test_only_training_batches_change_and_a_seed_fixes_them.
    (x0, y0), (x1, y1), (x2, y2) = (
        batches(bundle(*overrides).train.take(1))[0]
        for overrides in [
            ("augmentation=none",),
            (f"augmentation={option}", "augmentation.seed=1"),
            (f"augmentation={option}", "augmentation.seed=1"),
        ]
    )
    assert x1.dtype == np.uint8  # rounded back to the raw pixels' type
    assert not np.array_equal(x0, x1)  # augmented
    np.testing.assert_array_equal(y0, y1)  # labels untouched
    np.testing.assert_array_equal(x1, x2)  # same seed, same transform
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("option", sorted(NEW_OPTIONS))
def test_new_options_train_in_the_pipeline_on_rgb(option: str) -> None:
    result = imgexp.train(*SYNTHETIC, f"augmentation={option}", "augmentation.seed=0",
                          *TINY_RUN, "tracking=none")  # fmt: skip
    assert len(result.history["loss"]) == 1 and np.isfinite(result.history["loss"][0])


@pytest.fixture(scope="module")
def in_model_runs(tmp_path_factory: pytest.TempPathFactory):
    """Each new option in the model placement on digits (1 channel), trained into one store."""
    home = tmp_path_factory.mktemp("augmentation-home")
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMGEXP_HOME", str(home))
        for option in NEW_OPTIONS:
            placed = (f"augmentation={option}", "augmentation.placement=model")
            runs[option] = imgexp.train(
                "dataset=digits", *placed, "augmentation.seed=0", *TINY_RUN
            )
    return home, runs


@pytest.mark.parametrize("option", sorted(NEW_OPTIONS))
def test_new_options_in_the_model_on_gray_survive_save_and_load(
    option: str, in_model_runs
) -> None:
    home, runs = in_model_runs
    result = runs[option]
    names = [type(layer).__name__ for layer in result.model.layers]
    # Before the preprocessing: the layer sees raw 0..255 pixels, as in the pipeline.
    assert names.index(NEW_OPTIONS[option].__name__) < names.index("Rescaling")
    mlflow.set_tracking_uri(store_uri(home))
    loaded = mlflow.tensorflow.load_model(f"runs:/{result.run_id}/model")  # the logged .keras
    (layer,) = [layer for layer in loaded.layers if isinstance(layer, NEW_OPTIONS[option])]
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1)).astype(np.uint8)
    inference = keras.ops.convert_to_numpy(layer(images, training=False))
    np.testing.assert_array_equal(inference, images)  # identity at inference
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), result.model.predict(images, verbose=0),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip
    client = MlflowClient(store_uri(home))
    artifacts = {item.path for item in client.list_artifacts(result.run_id, "plots")}
    assert "plots/augmentation_preview.png" in artifacts


@pytest.mark.parametrize(
    "node,problem",
    [
        ("{_target_: keras.layers.RandomErasing, fill_value: [0, 0, 0]}", "fill_value=[0, 0, 0]"),
        ("{_target_: keras.layers.RandomHue, factor: 0.2, value_range: [0, 255]}", "RGB"),
    ],
)
def test_a_layer_that_cannot_take_one_channel_is_refused_early(node: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        imgexp.train("dataset=digits", f"augmentation.layers=[{node}]", *TINY_RUN, "tracking=none")
    message = str(info.value)
    assert "augmentation.layers[0]" in message and problem in message
    assert "1 channel" in message
