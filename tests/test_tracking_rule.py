"""One tracking rule for every entry point: an explicit ``--tracking-uri``/``tracking.uri=``
wins, then ``$MLFLOW_TRACKING_URI``, then imgexp's default store; likewise the experiment
(``$MLFLOW_EXPERIMENT_NAME``). Flags and overrides go in any order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import run_cli, store_uri
from mlflow.tracking import MlflowClient
from PIL import Image

import imgexp
from imgexp.config import compose_config
from imgexp.tracking.uri import tracking_uri

TINY = ("dataset=digits", "model.hidden_units=[8]", "trainer.epochs=1", "trainer.verbose=0")


def test_the_rule_in_composition(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert compose_config().tracking.uri == store_uri(isolated_home) == tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "team")
    cfg = compose_config()
    assert (cfg.tracking.uri, cfg.tracking.experiment) == ("http://127.0.0.1:5999", "team")
    assert tracking_uri() == "http://127.0.0.1:5999"
    cfg = compose_config("tracking.uri=sqlite:////tmp/x.db", "tracking.experiment=mine")
    assert (cfg.tracking.uri, cfg.tracking.experiment) == ("sqlite:////tmp/x.db", "mine")
    assert tracking_uri("sqlite:////tmp/y.db") == "sqlite:////tmp/y.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # set but empty: as if unset
    assert compose_config().tracking.uri == store_uri(isolated_home)


def test_a_run_in_one_store_does_not_become_the_next_runs_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's set_tracking_uri exports $MLFLOW_TRACKING_URI; imgexp keeps it as it was."""
    other = f"sqlite:///{tmp_path}/other.db"
    imgexp.train(*TINY, f"tracking.uri={other}", "tracking.log_model=false")
    assert os.environ["MLFLOW_TRACKING_URI"] == ""  # as the test session set it (= unset)
    home = tmp_path / "second-home"
    monkeypatch.setenv("IMGEXP_HOME", str(home))
    second = imgexp.train(*TINY, "tracking.log_model=false")
    assert MlflowClient(store_uri(home)).get_run(second.run_id).info.status == "FINISHED"


@pytest.mark.slow
def test_every_entry_point_follows_mlflow_tracking_uri(tmp_path: Path) -> None:
    home = tmp_path / "home"
    uri = f"sqlite:///{tmp_path}/team.db"
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "team"}
    out = run_cli(*TINY, home=home, env=env).stdout
    assert f"MLflow store:  {uri} (from $MLFLOW_TRACKING_URI; created by this run)" in out
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("team").experiment_id])
    digit = tmp_path / "digit.png"
    Image.new("L", (8, 8), 128).save(digit)
    model = f"runs:/{run.info.run_id}/model"
    predicted = run_cli("predict", model, str(digit), "-o", "csv", home=home, env=env)
    assert "digit.png" in predicted.stdout
    evaluated = run_cli("eval", model, home=home, env=env).stdout
    assert f"(evaluates run {run.info.run_id})" in evaluated
    report = run_cli("report", "team", home=home, env=env, check=False)  # no sweep there yet
    assert report.returncode == 2 and f"'team' in {uri} has no sweep" in report.stderr
    # Overrides before the run id, a hydra.* override: found through the variable.
    outputs = tmp_path / "rerun-out"
    again = run_cli("rerun", "trainer.epochs=2", run.info.run_id, f"hydra.run.dir={outputs}",
                    home=home, env=env).stdout  # fmt: skip
    assert f"(rerun of {run.info.run_id})" in again and (outputs / ".hydra").is_dir()
    # A flag after the run id and before the overrides, without the variable.
    flagged = run_cli("rerun", run.info.run_id, "--tracking-uri", uri, "trainer.epochs=1",
                      home=home).stdout  # fmt: skip
    assert "rerun of" in flagged and f"MLflow store:  {uri} (named" in flagged
    assert not (home / "mlflow.db").exists()  # nothing went to the default store
