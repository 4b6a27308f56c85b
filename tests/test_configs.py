"""Composition of every group option and preset, and clear errors before TensorFlow loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import ConfigKeyError, ValidationError

from imgexp.api import compose_config

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = [
    "dataset", "model", "optimizer", "schedule", "augmentation", "trainer", "tracking", "paths",
]  # fmt: skip


def options(group: str) -> list[str]:
    """Every YAML option of a group."""
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "group,option", [(group, option) for group in GROUPS for option in options(group)]
)
def test_every_group_option_composes(group: str, option: str) -> None:
    cfg = compose_config(f"{group}={option}")
    assert OmegaConf.to_container(cfg[group], resolve=True)  # resolves, nothing missing


@pytest.mark.parametrize("preset", options("experiment"))
def test_every_preset_composes(preset: str) -> None:
    cfg = compose_config(f"experiment={preset}")
    assert cfg.hydra.runtime.choices.experiment == preset
    with open_dict(cfg):
        del cfg["hydra"]
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def test_unknown_option_is_named() -> None:
    with pytest.raises(ConfigCompositionException, match="optimizer.*adamm|adamm"):
        compose_config("optimizer=adamm")


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_config("model.hiden_units=[3]")
    assert "hiden_units" in str(info.value) + str(info.value.__cause__)


def test_wrong_type_is_named() -> None:
    with pytest.raises((ConfigCompositionException, ValidationError)) as info:
        compose_config("trainer.epochs=many")
    assert "epochs" in str(info.value) + str(info.value.__cause__)


def test_invalid_enum_value_lists_valid_ones() -> None:
    with pytest.raises((ConfigCompositionException, ValidationError)) as info:
        compose_config("dataset.validation.take=middle")
    text = str(info.value) + str(info.value.__cause__)
    assert "middle" in text and "first" in text and "last" in text


def test_misspelt_key_in_a_user_yaml_fails_at_composition(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mine.yaml").write_text(
        "defaults:\n  - base_mlp\n  - _self_\nhidden_unit: [10]\n"
    )
    with pytest.raises((ConfigCompositionException, ConfigKeyError)) as info:
        compose_config("model=mine", config_dir=tmp_path)
    assert "hidden_unit" in str(info.value) + str(info.value.__cause__)


def test_user_config_dir_adds_options(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "wide_mlp.yaml").write_text(
        "defaults:\n  - base_mlp\n  - _self_\nhidden_units: [512]\n"
    )
    cfg = compose_config("model=wide_mlp", config_dir=tmp_path)
    assert list(cfg.model.hidden_units) == [512]


def test_store_defaults_to_one_absolute_place(isolated_home: Path) -> None:
    cfg = compose_config()
    assert cfg.tracking.uri == f"sqlite:///{isolated_home}/mlflow.db"
    assert cfg.hydra.job.chdir is False


@pytest.mark.slow
def test_composing_does_not_import_tensorflow() -> None:
    code = (
        "import sys; from imgexp.api import compose_config; import imgexp.cli; "
        "compose_config('experiment=fashion_mnist_mlp'); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.slow
def test_help_lists_groups() -> None:
    imgexp = Path(sys.executable).parent / "imgexp"
    out = subprocess.run([str(imgexp), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "dataset:" in out.stdout and "fashion_mnist" in out.stdout


def test_every_package_is_shipped() -> None:
    """Each imgexp subpackage is listed in pyproject.toml, or a normal install would lack it."""
    import tomllib

    project = tomllib.loads((CONF.parent / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(CONF.parent).parts)
        for init in (CONF.parent / "imgexp").rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
