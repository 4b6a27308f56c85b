"""The augmentation preview (plots/augmentation_preview.png): logged for augmented runs only,
made by the training augmentation itself, mixed labels on the tiles, nothing of the run changed."""

from __future__ import annotations

import random
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import store_uri
from mlflow.tracking import MlflowClient

import imgexp
from imgexp.api import compose_config
from imgexp.augmentation import preview
from imgexp.dataset import pipeline
from imgexp.dataset.build import build_data
from imgexp.tracking import names

SYNTHETIC = ("dataset=synthetic", "dataset.image_size=[12,12]", "dataset.classes=[cat,dog,fox]")
TINY_RUN = ("model.hidden_units=[8]", "trainer.epochs=1", "trainer.steps_per_epoch=2",
            "trainer.verbose=0", "tracking.log_model=false")  # fmt: skip


def preview_inputs(*overrides: str):
    """(augmentation config, raw synthetic bundle) for ``overrides``."""
    cfg = compose_config(*SYNTHETIC, *overrides)
    keras.utils.set_random_seed(0)
    return cfg.augmentation, build_data(cfg.dataset, 8, seed=0)


def plots(client: MlflowClient, run_id: str) -> set[str]:
    return {item.path for item in client.list_artifacts(run_id, "plots")}


def test_no_preview_without_augmentation(isolated_home: Path) -> None:
    # An augmented run logs one: tests/test_augmentation.py's runs in the model placement.
    client = MlflowClient(store_uri(isolated_home))
    plain = imgexp.train(*SYNTHETIC, "augmentation=none", *TINY_RUN)
    assert names.AUGMENTATION_PREVIEW_PNG not in plots(client, plain.run_id)
    assert names.TRAINING_CURVES_PNG in plots(client, plain.run_id)  # the listing works
    assert (
        preview.augmentation_preview(compose_config("augmentation=none").augmentation, None)
        is None
    )


def test_tile_labels_name_the_class_or_the_mixture() -> None:
    classes = ["cat", "dog", "fox"]
    assert preview.tile_label(np.int64(1), classes) == "dog"
    assert preview.tile_label(np.array([0.0, 0.0, 1.0]), classes) == "fox"
    assert preview.tile_label(np.array([0.3, 0.7, 0.0]), classes) == "0.7 dog + 0.3 cat"
    assert preview.tile_label(np.array([0.72, 0.0, 0.28]), classes) == "0.72 cat + 0.28 fox"
    assert preview.tile_label(np.array([0.998, 0.002, 0.0]), classes) == "cat"  # a sliver


@pytest.mark.parametrize("option", ["mixup", "cutmix"])
def test_mixing_previews_carry_mixed_labels(option: str) -> None:
    cfg, data = preview_inputs(f"augmentation={option}", "augmentation.seed=0")
    images, labels = preview.training_examples(data.train, data.counts["train"], preview.IMAGES)
    views = preview.augmented_views(cfg, images, labels, data.num_classes, preview.VIEWS)
    texts = [preview.tile_label(label, data.class_names) for _, soft in views for label in soft]
    assert any(" + " in text for text in texts)  # e.g. "0.56 fox + 0.44 cat"
    for _, soft in views:
        np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-5)  # the pipeline's one-hots


@pytest.mark.parametrize("placement", ["pipeline", "model"])
def test_views_are_the_training_augmentation_seeded(placement: str) -> None:
    overrides = ("augmentation=randaugment", f"augmentation.placement={placement}")
    cfg, data = preview_inputs(*overrides, "augmentation.seed=3")
    images, labels = preview.training_examples(data.train, data.counts["train"], preview.IMAGES)
    first = preview.augmented_views(cfg, images, labels, data.num_classes, 2)
    again = preview.augmented_views(cfg, images, labels, data.num_classes, 2)
    for (x1, y1), (x2, _) in zip(first, again, strict=True):
        assert x1.dtype == np.uint8 and x1.shape == images.shape
        assert not np.array_equal(x1, images)  # augmented
        np.testing.assert_array_equal(x1, x2)  # the same seed, the same views
        np.testing.assert_array_equal(y1, labels)  # no mixing: labels untouched
    assert not np.array_equal(first[0][0], first[1][0])  # two batches, two draws


def test_preview_reads_real_training_images_and_leaves_the_run_alone() -> None:
    cfg, data = preview_inputs("augmentation=flip_shift_rotate")
    _, untouched = preview_inputs("augmentation=flip_shift_rotate")
    state = random.getstate()
    figure = preview.augmentation_preview(cfg, data)
    assert random.getstate() == state  # unseeded layers of the run draw the same seeds
    assert len(figure.axes) == 1  # one mosaic
    images, labels = preview.training_examples(data.train, data.counts["train"], preview.IMAGES)
    assert len(images) == preview.IMAGES
    first_epoch = [(x.numpy(), y.numpy()) for x, y in untouched.train]
    examples = [(x, y) for xs, ys in first_epoch for x, y in zip(xs, ys, strict=True)]
    for image, label in zip(images, labels, strict=True):  # each one a training example
        assert any(np.array_equal(image, x) and label == y for x, y in examples)
    # The training order is not advanced by the preview: the same as a bundle never previewed.
    for (x0, y0), (x1, y1) in zip(data.train, first_epoch, strict=True):
        np.testing.assert_array_equal(y0.numpy(), y1)
        np.testing.assert_array_equal(x0.numpy(), x1)


def test_a_cached_pipeline_is_read_below_its_cache() -> None:
    decoded = tf.Variable(0, dtype=tf.int64)

    def decode(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        decoded.assign_add(1)
        return tf.fill((4, 4, 1), tf.cast(index, tf.uint8)), index

    examples = tf.data.Dataset.range(200).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    train = pipeline.batch(  # the folder pipelines' tail: cache, shuffle, batch, prefetch
        pipeline.cached(examples, "memory", "unused"), 8, training=True, seed=0, shuffle_buffer=200
    )
    images, labels = preview.training_examples(train, 200, 5)
    assert int(decoded.numpy()) == 5  # five decodes, not a cache filled up to the last index
    np.testing.assert_array_equal(images[:, 0, 0, 0], labels)  # (image, label) pairs kept
    assert len(set(labels.tolist())) == 5
