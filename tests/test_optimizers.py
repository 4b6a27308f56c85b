"""Optimizers and learning-rate schedules from config, and the label-smoothing loss."""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest

from imgexp.api import compose_config
from imgexp.optimizer.build import build_optimizer
from imgexp.trainer.losses import Accuracy, CrossEntropy

# 100 training images with batch 10: 10 optimizer steps per epoch.
DATA = SimpleNamespace(counts={"train": 100}, train=None)


def optimizer_for(*overrides: str):
    cfg = compose_config("trainer.batch_size=10", "trainer.epochs=10", *overrides)
    return build_optimizer(cfg, DATA)


def rate(optimizer: keras.Optimizer, step: int) -> float:
    return float(optimizer.learning_rate if not callable(optimizer._learning_rate) else
                 optimizer._learning_rate(step))  # fmt: skip


@pytest.mark.parametrize(
    "option,cls,attrs",
    [
        ("adam", keras.optimizers.Adam, {"beta_1": 0.9}),
        ("sgd", keras.optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
        ("rmsprop", keras.optimizers.RMSprop, {"rho": 0.9}),
        ("adamw", keras.optimizers.AdamW, {"weight_decay": 0.004}),
    ],
)
def test_optimizer_options(option: str, cls: type, attrs: dict) -> None:
    extra = ["optimizer.momentum=0.9", "optimizer.nesterov=true"] if option == "sgd" else []
    optimizer, callbacks = optimizer_for(f"optimizer={option}", *extra)
    assert type(optimizer) is cls and callbacks == []
    for name, value in attrs.items():
        assert getattr(optimizer, name) == pytest.approx(value)


def test_weight_decay_is_config() -> None:
    optimizer, _ = optimizer_for("optimizer=sgd", "optimizer.weight_decay=0.0005")
    assert optimizer.weight_decay == pytest.approx(0.0005)


def test_cosine_with_warmup() -> None:
    optimizer, _ = optimizer_for(
        "schedule=cosine", "schedule.warmup_epochs=2", "schedule.warmup_start=0.1",
        "optimizer.learning_rate=0.1",
    )  # fmt: skip
    assert rate(optimizer, 0) == pytest.approx(0.01)  # warmup starts at 0.1 * lr
    assert rate(optimizer, 10) == pytest.approx(0.055, rel=1e-3)  # half-way up
    assert rate(optimizer, 20) == pytest.approx(0.1)  # peak after 2 epochs
    assert rate(optimizer, 60) == pytest.approx(0.05, rel=1e-3)  # half-way down
    assert rate(optimizer, 100) == pytest.approx(0.0, abs=1e-7)


def test_step_schedule_multiplies_at_milestones() -> None:
    optimizer, _ = optimizer_for(
        "schedule=step", "schedule.milestones=[3,6]", "schedule.gamma=0.5",
        "optimizer.learning_rate=0.2",
    )  # fmt: skip
    rates = [rate(optimizer, epoch * 10 + 5) for epoch in range(8)]
    np.testing.assert_allclose(rates, [0.2] * 3 + [0.1] * 3 + [0.05] * 2, rtol=1e-6)


def test_plateau_is_a_callback_on_a_float_rate() -> None:
    optimizer, callbacks = optimizer_for("schedule=plateau", "schedule.patience=2")
    assert rate(optimizer, 0) == pytest.approx(0.001)
    (callback,) = callbacks
    assert isinstance(callback, keras.callbacks.ReduceLROnPlateau) and callback.patience == 2


def test_warmup_longer_than_training_is_refused() -> None:
    with pytest.raises(ValueError, match="warmup_epochs=10"):
        optimizer_for("schedule=cosine", "schedule.warmup_epochs=10")


def test_label_smoothing_loss_matches_the_formula_for_both_label_formats() -> None:
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    sparse, one_hot = np.array([0, 1]), np.eye(3, dtype=np.float32)[[0, 1]]
    smoothed = one_hot * 0.9 + 0.1 / 3
    expected = float(np.mean(-(smoothed * np.log(probabilities)).sum(axis=1)))
    loss = CrossEntropy(label_smoothing=0.1)
    assert float(loss(sparse, probabilities)) == pytest.approx(expected, rel=1e-5)
    assert float(loss(one_hot, probabilities)) == pytest.approx(expected, rel=1e-5)
    for labels in (sparse, one_hot * 0.6 + one_hot[::-1] * 0.4):
        metric = Accuracy()
        metric.update_state(labels, probabilities)
        assert float(metric.result()) == pytest.approx(0.5) and metric.name == "accuracy"
