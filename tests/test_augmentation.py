"""Augmentation: the IDG -> layer mapping, training split only, seeded, mixing, placement."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from imgexp.api import compose_config
from imgexp.augmentation.layers import (
    augment_training,
    augmentation_layers,
    model_augmentation,
    pipeline_augment,
)
from imgexp.dataset.build import build_data

SYNTHETIC = ("dataset=synthetic", "dataset.image_size=[16,16]", "dataset.classes=[a,b,c,d]")


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
