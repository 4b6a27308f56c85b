"""Every preset composes to what its YAML sets, says how to run it, and trains 2 steps on
generated images of its shape (no real data needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict

from imgexp.api import compose_config

EXPERIMENTS = Path(__file__).parents[1] / "conf" / "experiment"
PRESETS = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))


def leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as ``{"dotted.key": value}`` (lists are values)."""
    if not isinstance(node, dict):
        return {prefix: node}
    found: dict[str, Any] = {}
    for key, value in node.items():
        found |= leaves(value, f"{prefix}.{key}" if prefix else key)
    return found


def own_settings(preset: str) -> tuple[dict[str, str], dict[str, Any]]:
    """What a preset's YAML itself sets: its ``override /<group>: <option>`` choices and its
    values (not those of a preset it extends)."""
    raw = OmegaConf.to_container(OmegaConf.load(EXPERIMENTS / f"{preset}.yaml"))
    choices = {
        key.removeprefix("override /"): option
        for entry in raw.pop("defaults", [])
        if isinstance(entry, dict)
        for key, option in entry.items()
    }
    return choices, leaves(raw)


@pytest.mark.parametrize("preset", PRESETS)
def test_what_a_preset_sets_is_what_composes(preset: str) -> None:
    """Its group choices and values win over the groups' defaults and over a preset it
    extends (``_self_`` last, ``@package _global_``), and pass the schemas unchanged."""
    choices, values = own_settings(preset)
    cfg = compose_config(f"experiment={preset}")
    assert choices or preset.endswith("_aug"), preset  # only an extension chooses nothing new
    for group, option in choices.items():
        assert cfg.hydra.runtime.choices[group] == option, group
    with open_dict(cfg):
        del cfg["hydra"]  # (its sweep paths resolve only in a multirun)
    composed = leaves(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    for key, value in values.items():
        assert composed[key] == value, key


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_header_says_how_to_run_it(preset: str) -> None:
    text = (EXPERIMENTS / f"{preset}.yaml").read_text()
    assert text.startswith("# @package _global_")
    assert f"Run: imgexp experiment={preset}" in text


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_two_steps_on_generated_data(preset: str, tiny_preset) -> None:
    from imgexp.dataset.build import build_data

    two_epochs = ("trainer.epochs=2", "trainer.steps_per_epoch=1")  # an epoch boundary too
    result = tiny_preset.train(preset, *two_epochs)
    cfg = tiny_preset(preset, *two_epochs)
    assert len(result.history["loss"]) == 2 and np.isfinite(result.history["loss"]).all()
    assert result.model.output_shape[-1] == len(cfg.dataset.classes or range(10))
    # The reported accuracy is the trained model's, on the test split the run used.
    data = build_data(cfg.dataset, int(cfg.trainer.batch_size), int(cfg.trainer.seed))
    labels = np.concatenate([np.asarray(y) for _, y in data.test])
    predicted = result.model.predict(data.test, verbose=0).argmax(axis=1)
    assert result.metrics["test_accuracy"] == pytest.approx(np.mean(predicted == labels))
