"""Resume after a crash: a real ``imgexp`` subprocess killed with SIGKILL mid-epoch, re-run with
the same command, continues the same MLflow run and ends where an uninterrupted run ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
from helpers import run_cli, store_uri
from mlflow.tracking import MlflowClient

from imgexp.api import compose_config
from imgexp.job import plain_config
from imgexp.trainer.resume import backup_dir

TESTS = Path(__file__).resolve().parent
EPOCHS = 5


class SlowBatches(keras.callbacks.Callback):
    """Test support, loaded by the subprocess from ``trainer.callbacks``: makes each batch
    take a while, so that a kill lands in the middle of an epoch."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        time.sleep(self.seconds)


COMMAND = [
    "dataset=digits", "model.hidden_units=[16]", f"trainer.epochs={EPOCHS}",
    "trainer.deterministic=true", "trainer.steps_per_execution=1", "tracking.log_model=false",
    "+trainer.callbacks.slow={_target_: test_resume.SlowBatches, seconds: 0.03}",
]  # fmt: skip


def runs(home: Path) -> list:
    client = MlflowClient(store_uri(home))
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def loss_steps(home: Path, run_id: str, key: str = "loss") -> list[int]:
    history = MlflowClient(store_uri(home)).get_metric_history(run_id, key)
    return sorted(metric.step for metric in history)


def by_step(client: MlflowClient, run_id: str, key: str) -> list[float]:
    return [m.value for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def kill_mid_training(home: Path, after_epochs: int, command: list[str]) -> str:
    """Start ``command``, SIGKILL it once ``after_epochs`` epochs are in MLflow."""
    home.mkdir(parents=True, exist_ok=True)
    runs(home)  # create the store first: polling a store being created races its migrations
    env = dict(os.environ, IMGEXP_HOME=str(home))
    imgexp = str(Path(sys.executable).parent / "imgexp")
    process = subprocess.Popen([imgexp, *command], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=home.parent)  # fmt: skip
    deadline = time.time() + 240
    run_id = None
    try:
        while time.time() < deadline and process.poll() is None:
            time.sleep(0.2)
            found = runs(home)
            if found and len(loss_steps(home, found[0].info.run_id)) >= after_epochs:
                run_id = found[0].info.run_id
                break
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert run_id is not None, "the run never reached the epoch to kill it at"
    assert process.returncode == -signal.SIGKILL
    return run_id


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["fit", "custom_loop"])
def test_sigkill_then_same_command_continues_the_same_run(
    trainer: str, isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # the subprocess imports SlowBatches
    command = [f"trainer={trainer}", *COMMAND]
    run_id = kill_mid_training(isolated_home, after_epochs=2, command=command)
    (killed,) = runs(isolated_home)
    assert killed.info.status == "RUNNING"  # SIGKILL: nobody could close it
    killed_steps = loss_steps(isolated_home, run_id)
    assert 2 <= len(killed_steps) < EPOCHS
    backups = list((isolated_home / "backups").iterdir())
    assert len(backups) == 1 and (backups[0] / "run.json").read_text().count(run_id) == 1

    run_cli(*command, home=isolated_home)  # the very same command

    (resumed,) = runs(isolated_home)  # no second run
    assert resumed.info.run_id == run_id
    assert resumed.info.status == "FINISHED"
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert loss_steps(isolated_home, run_id, key) == list(range(1, EPOCHS + 1)), key
    assert int(resumed.data.tags["imgexp.resumed_from_epoch"]) >= len(killed_steps) - 1
    assert not list((isolated_home / "backups").iterdir())  # removed once finished

    reference_home = tmp_path / "reference"
    run_cli(*command, home=reference_home)  # uninterrupted
    (reference,) = runs(reference_home)
    client, ref_client = (
        MlflowClient(store_uri(isolated_home)),
        MlflowClient(store_uri(reference_home)),
    )
    for key in ("loss", "val_loss", "val_accuracy"):
        assert by_step(client, run_id, key) == by_step(ref_client, reference.info.run_id, key)
    assert resumed.data.metrics["test_accuracy"] == reference.data.metrics["test_accuracy"]
    assert resumed.data.metrics["test_loss"] == reference.data.metrics["test_loss"]


def test_backup_location_follows_the_config(isolated_home: Path) -> None:
    one = plain_config(compose_config("dataset=digits", "trainer.epochs=3"))
    same = plain_config(compose_config("dataset=digits", "trainer.epochs=3",
                                       "trainer.resume=false"))  # fmt: skip
    other = plain_config(compose_config("dataset=digits", "trainer.epochs=4"))
    root = isolated_home
    assert backup_dir(one, root) == backup_dir(same, root)  # resume itself is not part of it
    assert backup_dir(one, root) != backup_dir(other, root)
    assert backup_dir(one, root).parent == root / "backups"
    assert backup_dir(one, root).name.startswith("digits-mlp-")


def test_a_run_that_failed_before_its_first_epoch_is_not_reopened(isolated_home: Path) -> None:
    import imgexp

    command = ("dataset=digits", "dataset.classes=[nope]", "trainer.epochs=1")
    for _ in range(2):  # the very same command, twice
        with pytest.raises(ValueError, match="nope"):
            imgexp.train(*command)
    found = runs(isolated_home)
    assert len(found) == 2  # the retry is a new run; the first stays the record of its failure
    assert {run.info.status for run in found} == {"FAILED"}


def unused_pid() -> int:
    """A pid that no process of this host has (the highest free one: new pids are handed out
    upwards from the last one, so it stays free for the few seconds of a test)."""
    pid_max = Path("/proc/sys/kernel/pid_max")
    top = int(pid_max.read_text()) - 1 if pid_max.exists() else 99_999
    for pid in range(top, 1, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free pid")


def test_a_run_left_running_by_a_dead_process_is_marked_killed(isolated_home: Path) -> None:
    from imgexp.trainer.resume import RUN_FILE, ResumeSession, write_json

    cfg = compose_config("dataset=digits")
    client = MlflowClient(cfg.tracking.uri)
    orphan = client.create_run(client.create_experiment("orphans")).info.run_id  # RUNNING
    directory = backup_dir(plain_config(cfg), cfg.paths.root)
    directory.mkdir(parents=True)
    write_json(directory / RUN_FILE, {"run_id": orphan, "pid": unused_pid(),
                                      "host": socket.gethostname()})  # fmt: skip

    session = ResumeSession.open(directory, cfg.tracking)

    assert session is not None and session.run_id is None  # nothing saved: a new run
    assert not directory.exists()
    run = client.get_run(orphan)
    assert run.info.status == "KILLED"
    assert "before the first epoch" in run.data.tags["imgexp.error"]
