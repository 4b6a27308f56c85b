"""The fit and custom_loop trainers: same metric names in MLflow, early stopping and NaN stop,
determinism, mixed-precision fallback, and unfreezing a frozen backbone."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient

import imgexp
from imgexp.api import compose_config
from imgexp.dataset.build import build_data
from imgexp.runner import TrainingDiverged
from imgexp.trainer import custom_loop, fit
from imgexp.trainer.precision import gpu_capabilities, set_precision

DATA = ("dataset=synthetic", "dataset.image_size=[12,12]", "dataset.classes=[a,b,c]",
        "trainer.batch_size=16", "trainer.verbose=0")  # fmt: skip
TINY = (*DATA, "model=cnn", "model.filters=[4]", "model.dense_units=8")
METRICS = {"loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"}


@pytest.mark.parametrize("trainer", ["fit", "custom_loop"])
def test_both_trainers_log_the_same_metrics(trainer: str, isolated_home: Path) -> None:
    # The loop and the model of "Using TensorFlow 2.0 to build a CNN for image classification"
    # (https://medium.com/analytics-vidhya/using-tensorflow-2-0-to-build-a-cnn-for-image-classification-4e50848ce1c0).
    subclass = trainer == "custom_loop"
    model = ["model=subclass_cnn", "dataset.image_size=[28,28]"] if subclass else []
    base = DATA if subclass else TINY
    result = imgexp.train(*base, f"trainer={trainer}", "trainer.epochs=2", *model)
    client = MlflowClient(store_uri(isolated_home))
    logged = client.get_run(result.run_id).data.metrics
    assert set(logged) >= METRICS
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [m.step for m in client.get_metric_history(result.run_id, name)] == [1, 2]
    assert result.history["loss"][1] < result.history["loss"][0]  # it learns
    assert result.model.compiled  # the runner's model.evaluate worked on it
    if model:  # the article's subclassed model reloads from MLflow (registered serializable)
        mlflow.set_tracking_uri(store_uri(isolated_home))
        images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 3)).astype(np.uint8)
        reloaded = mlflow.tensorflow.load_model(f"runs:/{result.run_id}/model")
        np.testing.assert_allclose(
            reloaded.predict(images, verbose=0), result.model.predict(images, verbose=0),
            rtol=1e-5, atol=1e-6,
        )  # fmt: skip


@pytest.mark.slow  # two trainings
def test_deterministic_runs_are_identical() -> None:
    overrides = (*TINY, "trainer=custom_loop", "trainer.epochs=2", "tracking=none",
                 "trainer.deterministic=true", "augmentation=flip_shift_rotate")  # fmt: skip
    first, second = imgexp.train(*overrides), imgexp.train(*overrides)
    assert first.history == second.history
    assert first.metrics == second.metrics


@pytest.mark.slow  # four trainings
@pytest.mark.parametrize("trainer", ["fit", "custom_loop"])
def test_early_stopping_and_nan_stop(trainer: str) -> None:
    stopped = imgexp.train(
        *TINY, f"trainer={trainer}", "trainer.epochs=6", "tracking=none",
        "trainer.callbacks.early_stopping.enabled=true",
        "trainer.callbacks.early_stopping.patience=0",
        "trainer.callbacks.early_stopping.min_delta=100",
    )  # fmt: skip
    assert len(stopped.history["loss"]) == 2  # epoch 2 did not improve val_loss by 100
    with pytest.raises(TrainingDiverged, match="after epoch 1"):  # TerminateOnNaN stopped it
        imgexp.train(
            *TINY, f"trainer={trainer}", "trainer.epochs=6", "tracking=none",
            "optimizer=sgd", "optimizer.learning_rate=1e30", "trainer.steps_per_execution=1",
        )  # fmt: skip


def test_mixed_precision_falls_back_to_float32_without_a_fast_gpu(caplog) -> None:
    fast = any(capability >= (7, 0) for capability in gpu_capabilities())
    with caplog.at_level(logging.WARNING):
        policy = set_precision("mixed_float16")
    try:
        if fast:
            assert policy == "mixed_float16"
        else:
            assert policy == "float32"
            assert keras.mixed_precision.global_policy().name == "float32"
            assert "compute capability >= 7.0" in caplog.text
    finally:
        set_precision("none")


def test_unfreeze_trains_the_backbone_only_after_its_epoch() -> None:
    cfg = compose_config(*TINY, "trainer.epochs=2", "trainer.unfreeze.epoch=1")
    data = build_data(cfg.dataset, 16, seed=0)
    inputs = keras.Input(data.input_shape, dtype="uint8")
    backbone = keras.Sequential(
        [keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3), keras.layers.Flatten()],
        name="backbone",
    )
    backbone.trainable = False
    outputs = keras.layers.Dense(3, activation="softmax")(backbone(inputs))
    model = keras.Model(inputs, outputs)
    before = [w.copy() for w in backbone.get_weights()]
    seen: list[bool] = []
    spy = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(
            all(np.array_equal(a, b) for a, b in zip(before, backbone.get_weights(), strict=True))
        )
    )
    history = fit.train(model, keras.optimizers.Adam(0.01), data, cfg.trainer, [spy])
    assert len(history["loss"]) == 2
    assert seen == [True, False]  # frozen in epoch 1, trained in epoch 2
    assert backbone.trainable


def test_custom_loop_several_steps_per_call_trains_exactly_as_one_per_call() -> None:
    # 48 training images in batches of 5: 10 batches (the last of 3), run 4 per call (4, 4, 2);
    # a dataset whose length tf.data does not know runs one per call until it runs out.
    def trained(per_call: int, unknown_length: bool = False):
        cfg = compose_config(
            *DATA, "trainer=custom_loop", "trainer.batch_size=5", "trainer.epochs=2",
            f"trainer.steps_per_execution={per_call}",
        )  # fmt: skip
        keras.utils.set_random_seed(0)  # before the data: tf.data's shuffle takes it too
        data = build_data(cfg.dataset, 5, seed=0)
        if unknown_length:
            data.train = data.train.filter(lambda images, labels: True)
        model = keras.Sequential([
            keras.Input(data.input_shape, dtype="uint8"), keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(), keras.layers.Dropout(0.2),
            keras.layers.Dense(3, activation="softmax"),
        ])  # fmt: skip
        ends: list[int] = []
        spy = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: ends.append(batch)
        )
        history = custom_loop.train(model, keras.optimizers.Adam(0.01), data, cfg.trainer, [spy])
        return data.counts["train"], ends, history, model.get_weights()

    count, one_ends, one_history, one_weights = trained(1)
    assert count == 48
    assert one_ends == list(range(10)) * 2  # every batch, twice
    for per_call, unknown, expected_ends in ((4, False, [3, 7, 9]), (4, True, list(range(10)))):
        _, ends, history, weights = trained(per_call, unknown)
        assert ends == expected_ends * 2  # Keras' numbering: each call's last batch
        assert history.keys() == one_history.keys() >= {"loss", "accuracy", "val_loss"}
        for key, values in one_history.items():
            np.testing.assert_allclose(history[key], values, rtol=1e-5, err_msg=key)
        for after, reference in zip(weights, one_weights, strict=True):
            np.testing.assert_allclose(after, reference, rtol=1e-5, atol=1e-6)
