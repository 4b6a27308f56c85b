"""Launchers beyond one process: a sweep through Hydra's submitit launcher in its local mode
(``hydra/launcher=submitit_local``: each job pickled, submitted and run as its own subprocess by
submitit, the code path ``hydra/launcher=slurm`` takes on a cluster) is grouped in MLflow like
the basic and joblib sweeps of tests/test_sweeps.py. The 4-job sweep into PostgreSQL behind a
real ``mlflow server`` is .ci/team_store.sh (run by .ci/run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli, store_uri, sweep_runs
from mlflow.tracking import MlflowClient

TINY = [
    "dataset=digits", "model.hidden_units=[8]", "trainer.epochs=1", "tracking.log_model=false",
    "trainer.verbose=0",
]  # fmt: skip


@pytest.mark.slow
def test_submitit_local_sweep_is_grouped_with_a_failed_job_listed(
    isolated_home: Path, tmp_path: Path
) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    submitit_folder = tmp_path / "submitit"
    # One sweep, three jobs at once: two that finish and one that diverges (NaN loss).
    out = run_cli(
        "-m", "hydra/launcher=submitit_local", f"hydra.launcher.submitit_folder={submitit_folder}",
        "hydra.launcher.timeout_min=5", *TINY,
        "optimizer=sgd", "optimizer.learning_rate=0.01,0.02,1e12",
        home=isolated_home, check=False, timeout=600,
    )  # fmt: skip
    assert out.returncode != 0, out.stdout[-2000:]  # Hydra re-raises the failed job's error
    assert "Submitit 'local' sweep output dir" in out.stdout + out.stderr
    # submitit ran each job in its own process: one pickled job and one log per job.
    assert len(list(submitit_folder.glob("*_submitted.pkl"))) == 3
    assert len(list(submitit_folder.glob("*_0_log.out"))) == 3

    uri = store_uri(isolated_home)
    parent, children = sweep_runs(uri)
    assert len(children) == 3
    assert parent.data.tags["imgexp.launcher"] == "submitit_local"
    assert parent.data.tags["imgexp.sweeper"] == "basic"
    finished = [c for c in children if c.info.status == "FINISHED"]
    (failed,) = [c for c in children if c.info.status == "FAILED"]
    assert len(finished) == 2

    client = MlflowClient(uri)
    for child in finished:
        assert child.data.tags["imgexp.sweep"] == parent.data.tags["imgexp.sweep"]
        assert child.info.run_name.startswith(parent.info.run_name + "/")
        for key in ("loss", "val_accuracy", "test_accuracy"):
            assert key in child.data.metrics, (child.info.run_name, key)
        assert [m.step for m in client.get_metric_history(child.info.run_id, "loss")] == [1]
        # The job's own Hydra output (config and log file, written in the submitit process).
        files = {a.path for a in client.list_artifacts(child.info.run_id, "logs")}
        assert files == {"logs/imgexp.log"}
        log_text = Path(
            client.download_artifacts(child.info.run_id, "logs/imgexp.log", str(tmp_path))
        ).read_text()
        assert "dataset digits" in log_text
        hydra_files = {a.path for a in client.list_artifacts(child.info.run_id, "hydra")}
        assert "hydra/overrides.yaml" in hydra_files
    assert {c.data.tags["imgexp.overrides"].split()[-1] for c in finished} == {
        "optimizer.learning_rate=0.01",
        "optimizer.learning_rate=0.02",
    }

    assert "diverged" in failed.data.tags["imgexp.error"]
    error = {a.path for a in client.list_artifacts(failed.info.run_id)}
    assert "error.txt" in error  # the traceback
    assert parent.info.status == "FAILED"
    assert parent.data.tags["imgexp.error"] == "1 of 3 jobs did not finish"
    assert parent.data.tags["imgexp.n_jobs"] == "3" and parent.data.tags["imgexp.n_failed"] == "1"
    assert parent.data.tags["imgexp.failed_runs"] == failed.info.run_id
    assert parent.data.tags["imgexp.best_run_id"] in {c.info.run_id for c in finished}
    assert "1 failed" in out.stdout and "TrainingDiverged" in out.stdout  # end-of-sweep table
