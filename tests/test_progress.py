"""Progress bars count the batches an epoch really has: an epoch of 2 batches of a folder
dataset (whose length tf.data does not know) used to show "64/2" (steps_per_execution)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imgexp


def tiny_folder(root: Path, per_class: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for k, name in enumerate(("dark", "light")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 80, (12, 12, 3)) + 150 * k
            Image.fromarray(pixels.astype("uint8")).save(root / name / f"{i}.png")
    return root


def test_an_epoch_of_two_batches_shows_two_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tiny_folder(tmp_path / "images")
    result = imgexp.train(
        "dataset=image_folder", f"dataset.data_dir={root}", "dataset.image_size=[12,12]",
        "dataset.validation.size=2", "dataset.test_size=2", "model=mlp", "model.hidden_units=[4]",
        "trainer.batch_size=8", "trainer.epochs=1", "trainer.verbose=1", "tracking=none",
    )  # fmt: skip
    assert result.metrics["loss"] > 0
    printed = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # the bar's colours
    steps = set(re.findall(r"(\d+)/(\d+) ━", printed))
    assert steps and all(total == "2" and int(done) <= 2 for done, total in steps), printed
