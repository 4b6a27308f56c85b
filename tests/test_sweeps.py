"""Sweeps end to end with the real ``imgexp -m``: parallel joblib jobs on the default sqlite
store, a failing job among others, an Optuna search with a diverging trial, and a sweep
against a real ``mlflow server`` over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import run_cli, store_uri, sweep_runs
from mlflow.tracking import MlflowClient

from imgexp.api import compose_config

TINY = ["dataset=digits", "model.hidden_units=[8]", "tracking.log_model=false"]
HPARAMS = sorted(p.stem for p in (Path(__file__).parents[1] / "conf/hparams_search").glob("*"))


@pytest.mark.parametrize("option", HPARAMS)
def test_hparams_search_options_compose(option: str) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    cfg = compose_config(f"hparams_search={option}")
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert cfg.hydra.sweeper.direction == cfg.objective.direction
    assert cfg.hydra.sweeper.max_failure_rate == 1.0  # a failed trial never ends the search
    assert cfg.hydra.sweeper.params


def test_slurm_launcher_config_builds_the_launcher(isolated_home: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra.utils import instantiate

    cfg = compose_config("hydra/launcher=slurm")
    launcher = instantiate(cfg.hydra.launcher)  # as Hydra builds it: every setting accepted
    assert type(launcher).__name__ == "SlurmLauncher"
    # The jobs' files go under $IMGEXP_HOME, which the nodes share (as the resume backups).
    assert launcher.params["submitit_folder"].startswith(f"{isolated_home}/multirun/")


@pytest.mark.slow
def test_parallel_joblib_sweep_on_a_fresh_sqlite_store(
    isolated_home: Path, tmp_path: Path
) -> None:
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    out = run_cli(
        "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *TINY, "trainer.epochs=3",
        "optimizer.learning_rate=0.001,0.002,0.003,0.004",
        "+tracking.tags.api_token=sweep-secret-xyz", home=isolated_home,
    )  # fmt: skip
    assert "database is locked" not in out.stdout + out.stderr
    parent, children = sweep_runs(store_uri(isolated_home))
    assert len(children) == 4
    client = MlflowClient(store_uri(isolated_home))
    for child in children:
        assert child.info.status == "FINISHED"
        for key in ("loss", "val_accuracy"):
            steps = [m.step for m in client.get_metric_history(child.info.run_id, key)]
            assert sorted(steps) == [1, 2, 3], (child.info.run_name, key)
        assert "optimizer.learning_rate=" in child.data.tags["imgexp.overrides"]
        assert "sweep-secret-xyz" not in child.info.run_name + repr(child.data.tags)
    hydra_config = client.download_artifacts(children[0].info.run_id, "hydra", str(tmp_path))
    for path in Path(hydra_config).iterdir():
        assert "sweep-secret-xyz" not in path.read_text(), path.name
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["imgexp.n_jobs"] == "4" and parent.data.tags["imgexp.n_failed"] == "0"
    best = max(children, key=lambda c: c.data.metrics["val_accuracy"])
    assert parent.data.tags["imgexp.best_run_id"] == best.info.run_id
    assert parent.data.metrics["best_val_accuracy"] == best.data.metrics["val_accuracy"]


@pytest.mark.slow
def test_a_failing_job_does_not_stop_the_others(isolated_home: Path) -> None:
    out = run_cli(
        "-m", *TINY, "trainer.epochs=1", "optimizer=sgd", "optimizer.learning_rate=1e12,0.01",
        home=isolated_home, check=False,
    )  # fmt: skip
    assert out.returncode != 0  # Hydra reports the failed job at the end
    parent, children = sweep_runs(store_uri(isolated_home))
    (failed,) = [c for c in children if c.info.status == "FAILED"]
    (finished,) = [c for c in children if c.info.status == "FINISHED"]  # ran after the failure
    assert "diverged" in failed.data.tags["imgexp.error"]
    assert "learning_rate=0.01" in finished.data.tags["imgexp.overrides"]
    assert parent.info.status == "FAILED"  # closed although Hydra re-raised
    assert parent.data.tags["imgexp.error"] == "1 of 2 jobs did not finish"
    assert parent.data.tags["imgexp.failed_runs"] == failed.info.run_id
    assert parent.data.tags["imgexp.best_run_id"] == finished.info.run_id
    assert "FAILED" in out.stdout and "1 failed" in out.stdout  # the end-of-sweep table


@pytest.mark.slow
def test_sigterm_during_a_sweep_ends_the_job_and_the_parent_killed(isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, IMGEXP_HOME=str(isolated_home))
    imgexp = str(Path(sys.executable).parent / "imgexp")
    process = subprocess.Popen(
        [imgexp, "-m", *TINY, "trainer.epochs=100000", "optimizer.learning_rate=0.01,0.02"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=isolated_home,
    )  # fmt: skip
    uri = store_uri(isolated_home)
    deadline = time.time() + 300
    training = False
    while not training and time.time() < deadline and process.poll() is None:
        time.sleep(1)
        try:
            parent, children = sweep_runs(uri)
            training = bool(children and children[0].data.metrics.get("loss") is not None)
        except Exception:  # noqa: BLE001 - the store or the parent does not exist yet
            continue
    assert training, "the first job never logged an epoch"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) != 0
    parent, children = sweep_runs(uri)
    assert [c.info.status for c in children] == ["KILLED"]  # the second job never started
    assert parent.info.status == "KILLED"
    assert parent.data.tags["imgexp.error"] == "sweep interrupted by signal SIGTERM"


@pytest.mark.slow
def test_optuna_search_logs_trials_and_survives_a_diverging_one(isolated_home: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    run_cli(
        "-m", "hparams_search=quick", *TINY, "trainer.epochs=2",
        "optimizer=sgd", "optimizer.learning_rate=choice(0.05,1e12)", "hydra.sweeper.n_trials=2",
        home=isolated_home,
    )  # fmt: skip
    parent, children = sweep_runs(store_uri(isolated_home))
    assert len(children) == 2  # seed 0 draws 1e12 (diverges) first, then 0.05
    by_status = {c.info.status: c for c in children}
    assert set(by_status) == {"FINISHED", "FAILED"}
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["imgexp.sweeper"] == "optuna"
    assert parent.data.tags["imgexp.best_run_id"] == by_status["FINISHED"].info.run_id
    assert parent.data.tags["imgexp.best_params.optimizer.learning_rate"] == "0.05"
    client = MlflowClient(store_uri(isolated_home))
    files = {a.path for a in client.list_artifacts(parent.info.run_id, "sweep")}
    assert {"sweep/optimization_results.yaml", "sweep/summary.txt"} <= files


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path: Path):
    """A real ``mlflow server`` on a free loopback port, sqlite backend, proxied artifacts."""
    port = free_port()
    artifacts = tmp_path / "server-artifacts"
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(artifacts), "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
        start_new_session=True,
    )  # no GenAI job workers: a faster start
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    try:
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    tail = (tmp_path / "server.log").read_text()[-2000:]
                    raise RuntimeError(f"mlflow server did not start: {tail}") from None
                time.sleep(0.5)
        yield uri, artifacts
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.slow
@pytest.mark.fresh_store
def test_sweep_against_a_tracking_server_over_http(isolated_home: Path, mlflow_server) -> None:
    uri, artifacts = mlflow_server
    run_cli("-m", *TINY, "trainer.epochs=1", "optimizer=adam,sgd", f"tracking.uri={uri}",
            home=isolated_home)  # fmt: skip
    parent, children = sweep_runs(uri)
    assert len(children) == 2 and all(c.info.status == "FINISHED" for c in children)
    assert parent.info.status == "FINISHED"
    client = MlflowClient(uri)
    files = {a.path for a in client.list_artifacts(children[0].info.run_id, "config")}
    assert "config/config.yaml" in files  # served by the server, stored under its destination
    assert list(artifacts.rglob("config.yaml"))
    assert not (isolated_home / "mlflow.db").exists()  # nothing went to the local store
