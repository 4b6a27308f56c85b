"""Every preset composes with the article's setup, and trains 2 steps on generated images of
its shape (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

import imgexp
from imgexp.api import compose_config

PRESETS = sorted(
    p.stem for p in (Path(__file__).parents[1] / "conf" / "experiment").glob("*.yaml")
)

# (preset, key, value) facts taken from the articles (see each preset's header).
ARTICLE_SETUPS = [
    ("cifar10_functional_cnn", "model.name", "functional_cnn"),
    ("cifar10_functional_cnn", "optimizer.learning_rate", 0.001),
    ("cifar10_functional_cnn", "trainer.batch_size", 64),
    ("cifar10_functional_cnn", "trainer.epochs", 30),
    ("cifar10_functional_cnn", "dataset.validation.take", "last"),
    ("cifar10_functional_cnn", "dataset.validation.size", 3000),
    ("cifar10_functional_cnn_aug", "augmentation.name", "flip_shift_rotate"),
    ("cifar10_functional_cnn_aug", "dataset.normalize", True),
    ("chest_xray_cnn", "model.name", "simple_cnn"),
    ("chest_xray_cnn", "dataset.image_size", [224, 224]),
    ("chest_xray_cnn", "dataset.preprocessing", "vgg16"),
    ("chest_xray_cnn", "optimizer.learning_rate", 0.0001),
    ("chest_xray_cnn", "trainer.batch_size", 10),
    ("chest_xray_cnn", "trainer.epochs", 10),
    ("chest_xray_cnn", "dataset.validation.source", "dir"),
    ("flowers_cnn", "model.name", "five_conv_cnn"),
    ("flowers_cnn", "optimizer._target_", "keras.optimizers.RMSprop"),
    ("flowers_cnn", "dataset.image_size", [200, 200]),
    ("flowers_cnn", "trainer.batch_size", 128),
    ("caltech101_crab_cup", "dataset.classes", ["crab", "cup"]),
    ("caltech101_crab_cup", "trainer.batch_size", 4),
    ("mnist_subclass_cnn", "trainer.name", "custom_loop"),
    ("mnist_subclass_cnn", "model.name", "subclass_cnn"),
    ("mnist_subclass_cnn", "trainer.batch_size", 32),
    ("mnist_subclass_cnn", "trainer.epochs", 5),
    ("mnist_subclass_cnn", "dataset.shuffle_buffer", 15000),
    ("mnist_subclass_cnn", "dataset.validation.source", "test"),
    ("cifar10_resnet", "augmentation.name", "flip_crop"),
    ("cifar10_resnet", "schedule.name", "cosine"),
]


@pytest.mark.parametrize("preset,key,value", ARTICLE_SETUPS)
def test_preset_has_the_article_setup(preset: str, key: str, value) -> None:
    cfg = compose_config(f"experiment={preset}")
    node = cfg
    for part in key.split("."):
        node = node[part]
    assert (list(node) if isinstance(value, list) else node) == value


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_header_says_how_to_run_it(preset: str) -> None:
    text = (Path(__file__).parents[1] / "conf" / "experiment" / f"{preset}.yaml").read_text()
    assert text.startswith("# @package _global_")
    assert f"Run: imgexp experiment={preset}" in text


def smoke_overrides(preset: str) -> list[str]:
    """Generated data of the preset's shape, 2 epochs of 1 batch of 2, no real files."""
    cfg = compose_config(f"experiment={preset}")
    overrides = [
        f"experiment={preset}", "dataset._target_=imgexp.dataset.synthetic.load",
        "dataset.data_dir=null", "trainer.epochs=2", "trainer.steps_per_epoch=1",
        "trainer.batch_size=2", "tracking=none", "trainer.verbose=0",
    ]  # fmt: skip
    if not cfg.dataset.image_size:  # in-memory datasets: their native size
        overrides.append(f"dataset.image_size={[28, 28] if 'mnist' in preset else [32, 32]}")
    if cfg.dataset.validation.source == "dir":  # generated arrays have no val/ folder
        overrides.append("dataset.validation.source=train")
    if cfg.dataset.validation.size >= 1:  # a count (3000 of CIFAR-10) -> a fraction
        overrides.append("dataset.validation.size=0.2")
    if cfg.model.name == "transfer":  # no weight downloads in tests; 64 px instead of
        # 200/224 px: the same backbone at a tenth of the CPU time (unfreezing: test_trainers)
        overrides += [
            "model.weights=null",
            "trainer.unfreeze.epoch=null",
            "dataset.image_size=[64,64]",
        ]
    if cfg.schedule.get("warmup_epochs"):
        overrides.append("schedule.warmup_epochs=1")
    if cfg.model.name == "functional_cnn":  # 43M parameters: same layers, narrower, on CPU
        overrides += ["model.conv_filters=[4,4,4,4,4,4]", "model.dense_units=[8,8,8]"]
    return overrides


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_two_steps_on_generated_data(preset: str) -> None:
    result = imgexp.train(*smoke_overrides(preset))
    assert len(result.history["loss"]) == 2
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
    cfg = compose_config(*smoke_overrides(preset))
    assert result.model.output_shape[-1] == len(cfg.dataset.classes or range(10))
