"""``imgexp rerun``: rebuild a run from its logged config, exactly, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli, store_uri
from mlflow.tracking import MlflowClient

import imgexp
from imgexp.rerun import RerunError, rerun

TINY = ("dataset=digits", "model.hidden_units=[16]", "trainer.epochs=2")


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rerun") / "home"


@pytest.fixture(scope="module")
def original(module_home: Path):
    """A deterministic tiny run to rerun, trained once for the module in its own store."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMGEXP_HOME", str(module_home))
        return imgexp.train(*TINY, "trainer.deterministic=true")


@pytest.fixture
def home(original, module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The original's store as this test's default one (where `rerun` reads and logs)."""
    monkeypatch.setenv("IMGEXP_HOME", str(module_home))
    return module_home


def test_deterministic_rerun_reproduces_metrics_and_links_the_original(
    original, home: Path
) -> None:
    again = rerun(original.run_id, [])
    assert again.run_id != original.run_id
    assert again.metrics == original.metrics
    client = MlflowClient(store_uri(home))
    run = client.get_run(again.run_id)
    assert run.data.tags["imgexp.rerun_of"] == original.run_id
    assert (
        run.data.tags["dataset.digest"]
        == client.get_run(original.run_id).data.tags["dataset.digest"]
    )
    assert "imgexp.rerun.digest_changed" not in run.data.tags


@pytest.mark.slow  # a third training of this module
def test_overrides_apply_on_top_of_the_logged_config(original, home: Path) -> None:
    again = rerun(original.run_id, ["trainer.epochs=1"])
    history = MlflowClient(store_uri(home)).get_metric_history(again.run_id, "loss")
    assert [m.step for m in history] == [1]


def test_unknown_override_key_is_rejected_before_training(original, home: Path) -> None:
    with pytest.raises(RerunError, match="trainer.epoch"):
        rerun(original.run_id, ["trainer.epoch=1"])


def test_unknown_run_id_is_named(home: Path) -> None:
    with pytest.raises(RerunError, match="'deadbeef' was not found"):
        rerun("deadbeef", [])


def test_missing_store_is_named(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/none.db"
    with pytest.raises(RerunError, match=f"no MLflow store at {uri}"):
        rerun("abc", [], uri=uri)


@pytest.mark.slow
def test_cli_subcommand(original, home: Path) -> None:
    out = run_cli("rerun", original.run_id, "trainer.epochs=1", home=home).stdout
    assert f"(rerun of {original.run_id})" in out
    bad = run_cli("rerun", "nope", home=home, check=False)
    assert bad.returncode == 2 and "'nope' was not found" in bad.stderr
