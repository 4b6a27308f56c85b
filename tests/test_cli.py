"""The real ``imgexp`` console script in subprocesses: a run, a sweep, a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_cli, store_uri
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow


def all_runs(home: Path) -> list:
    client = MlflowClient(store_uri(home))
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments)


def test_cli_run_prints_id_accuracy_and_ui_command(
    isolated_home: Path, tiny_idx_dir: Path
) -> None:
    out = run_cli(
        "dataset=fashion_mnist", f"dataset.data_dir={tiny_idx_dir}", "dataset.validation.size=40",
        "model=mlp", "optimizer=sgd", "trainer.epochs=3", home=isolated_home,
    ).stdout  # fmt: skip
    (run,) = all_runs(isolated_home)
    assert run.info.status == "FINISHED"
    assert f"MLflow run id: {run.info.run_id}" in out
    assert "test accuracy: " in out
    assert f"mlflow ui --backend-store-uri {store_uri(isolated_home)} --host 127.0.0.1" in out
    client = MlflowClient(store_uri(isolated_home))
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [1, 2, 3]
    tags = run.data.tags
    assert tags["imgexp.overrides"].startswith("dataset=fashion_mnist")
    assert run.info.run_name.startswith("fashion_mnist-mlp ")
    hydra_files = {item.path for item in client.list_artifacts(run.info.run_id, "hydra")}
    assert {"hydra/config.yaml", "hydra/overrides.yaml"} <= hydra_files


def test_multirun_groups_jobs_under_one_parent(isolated_home: Path) -> None:
    run_cli(
        "-m", "optimizer=adam,sgd", "dataset=digits", "trainer.epochs=1",
        "model.hidden_units=[16]", home=isolated_home,
    )  # fmt: skip
    runs = all_runs(isolated_home)
    parents = [r for r in runs if r.data.tags.get("imgexp.role") == "sweep"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {c.data.tags["imgexp.sweep"] for c in children} == {parent.info.run_name}
    assert all(c.info.run_name.startswith(parent.info.run_name + "/") for c in children)
    assert parent.data.tags["imgexp.best_run_id"] in {c.info.run_id for c in children}
    assert "best_val_accuracy" in parent.data.metrics


def test_sigterm_marks_the_run_killed_and_keeps_its_metrics(isolated_home: Path) -> None:
    env = dict(os.environ, IMGEXP_HOME=str(isolated_home))
    imgexp = str(Path(sys.executable).parent / "imgexp")
    process = subprocess.Popen(
        [imgexp, "dataset=digits", "trainer.epochs=100000", "model.hidden_units=[8]"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = MlflowClient(store_uri(isolated_home))
    deadline = time.time() + 300  # generous: a loaded 2-core machine starts TF slowly
    training = False
    while not training and time.time() < deadline and process.poll() is None:
        time.sleep(1)
        runs = all_runs(isolated_home) if (isolated_home / "mlflow.db").exists() else []
        training = bool(runs and client.get_metric_history(runs[0].info.run_id, "loss"))
    assert training, "the run never logged an epoch"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    (run,) = all_runs(isolated_home)
    assert run.info.status == "KILLED"
    assert client.get_metric_history(run.info.run_id, "loss")
