"""Independent processes on one store: real ``imgexp`` commands started at the same moment
against a new sqlite store (named, or the default one of a fresh $IMGEXP_HOME) all finish, with
read-side commands beside them; the same command twice at once makes two runs; a store an
earlier crash left half-migrated is repaired, or the error says how to fix it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
import sqlalchemy
from mlflow.tracking import MlflowClient

from imgexp.tracking import store

TESTS = Path(__file__).resolve().parent
IMGEXP = str(Path(sys.executable).parent / "imgexp")
TINY = ["dataset=digits", "model.hidden_units=[8]", "trainer.epochs=2",
        "tracking.log_model=false", "trainer.verbose=0"]  # fmt: skip
PROCESSES = 8
# One thread each: eight TensorFlow processes on a small machine do not fight over cores.
THREADS = {name: "1" for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                  "TF_NUM_INTEROP_THREADS")}  # fmt: skip
# The revision before an MLflow migration that rebuilds latest_metrics through a temporary
# table (39d1c3be5f05): a store of an older MLflow still has that migration to run.
OLD_REVISION = "a8c4a736bde6"


class SlowBatches(keras.callbacks.Callback):
    """Test support, loaded by the subprocesses from ``trainer.callbacks``: epochs that last a
    while, so that two runs started together surely overlap."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        time.sleep(self.seconds)


def start_all(commands: list[list[str]], home: Path, extra_env: dict | None = None) -> list:
    """Start every command at once (each a real process with its home in ``home``)."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, IMGEXP_HOME=str(home), **THREADS, **(extra_env or {}))
    return [
        subprocess.Popen(
            command,
            env=env,
            cwd=home.parent,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for command in commands
    ]


def finish_all(processes: list) -> list[tuple[int, str]]:
    """Wait for every process: (exit status, output)."""
    return [(process.wait(timeout=600), process.communicate()[0]) for process in processes]


def all_runs(uri: str) -> list:
    client = MlflowClient(uri)
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def steps(uri: str, run_id: str, key: str = "loss") -> list[int]:
    """The epoch steps logged for ``key`` (the epoch logger logs epoch N at step N)."""
    return sorted(metric.step for metric in MlflowClient(uri).get_metric_history(run_id, key))


def assert_every_run_finished_once(uri: str, count: int) -> list:
    found = all_runs(uri)
    assert len(found) == count
    assert {run.info.status for run in found} == {"FINISHED"}
    for run in found:
        for key in ("loss", "val_loss"):
            assert steps(uri, run.info.run_id, key) == [1, 2], (run.info.run_name, key)
    return found


def assert_exited(results: list[tuple[int, str]], allowed: set[int]) -> None:
    for status, output in results:
        assert status in allowed and "Traceback" not in output, output[-4000:]


@pytest.mark.slow
def test_processes_started_together_on_a_new_store_all_finish(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"  # not created yet
    trainings = [[IMGEXP, *TINY, f"tracking.uri={uri}", f"tracking.run_name=job{index}"]
                 for index in range(PROCESSES)]  # fmt: skip
    image = tmp_path / "none.png"  # predict fails on the run id before reading it
    readers = [
        [IMGEXP, "report", "imgexp", "--tracking-uri", uri],  # 2: no sweep (or no store) yet
        [
            IMGEXP,
            "predict",
            "runs:/0123456789abcdef0123456789abcdef/model",
            str(image),
            "--tracking-uri",
            uri,
        ],  # fmt: skip  (1: no such run, said in one line)
    ]
    results = finish_all(start_all(trainings + readers, tmp_path / "home"))

    assert_exited(results[:PROCESSES], {0})
    assert_exited(results[PROCESSES:], {1, 2})
    assert "not found in the MLflow store" in results[-1][1]
    found = assert_every_run_finished_once(uri, PROCESSES)
    assert sorted(run.info.run_name for run in found) == [f"job{i}" for i in range(PROCESSES)]


@pytest.mark.slow
def test_processes_started_together_on_a_fresh_default_store_all_finish(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"  # does not exist: neither does its store
    trainings = [[IMGEXP, *TINY, f"trainer.seed={seed}"] for seed in range(PROCESSES)]
    results = finish_all(start_all(trainings, home))

    assert_exited(results, {0})
    assert_every_run_finished_once(f"sqlite:///{home / 'mlflow.db'}", PROCESSES)


@pytest.mark.slow
def test_the_same_command_twice_at_once_makes_two_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    slow = "+trainer.callbacks.slow={_target_: test_concurrency.SlowBatches, seconds: 0.02}"
    command = [IMGEXP, *TINY, "trainer.steps_per_execution=1", slow]  # trainer.resume: default
    results = finish_all(start_all([command, command], home, {"PYTHONPATH": str(TESTS)}))

    assert_exited(results, {0})
    found = assert_every_run_finished_once(f"sqlite:///{home / 'mlflow.db'}", 2)
    assert not any("imgexp.resumed_from_epoch" in run.data.tags for run in found)
    second = [output for _, output in results if "another live process" in output]
    assert len(second) == 1  # the one that found the backup owned says so
    assert not list((home / "backups").iterdir())  # both backups removed once finished


def old_store(path: Path) -> str:
    """A store an older MLflow made: its schema stops at OLD_REVISION; it holds one experiment."""
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base

    uri = f"sqlite:///{path}"
    engine = sqlalchemy.create_engine(uri)
    Base.metadata.create_all(engine)
    config = _get_alembic_config(uri)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, OLD_REVISION)
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO experiments (name, lifecycle_stage) VALUES ('kept', 'active')")
    return uri


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def killed_mid_migration(path: Path, with_data: bool = True) -> str:
    """The state a kill inside the latest_metrics migration leaves: a partial copy of the table
    in ``_alembic_tmp_latest_metrics``, the revision before that migration."""
    uri = old_store(path)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE _alembic_tmp_latest_metrics AS SELECT * FROM latest_metrics")
        if not with_data:
            db.execute("DELETE FROM experiments WHERE name = 'kept'")
    return uri


def test_mlflow_alone_fails_on_a_store_left_half_migrated(tmp_path: Path) -> None:
    uri = killed_mid_migration(tmp_path / "mlflow.db")
    with pytest.raises(sqlalchemy.exc.OperationalError, match="_alembic_tmp_latest_metrics"):
        MlflowClient(uri).search_experiments()  # what every run on it hit before the fix


def test_a_half_migrated_store_with_runs_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    uri = killed_mid_migration(path)

    client = store.client(uri)

    assert client.get_experiment_by_name("kept") is not None  # nothing lost
    assert not any(name.startswith("_alembic_tmp_") for name in tables(path))
    assert store.prepare(uri, "new", str(tmp_path / "artifacts"))  # usable: new runs go in


def test_a_half_migrated_store_holding_nothing_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    uri = killed_mid_migration(path, with_data=False)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE latest_metrics")  # killed after the drop: not repairable

    experiment = store.prepare(uri, "imgexp", str(tmp_path / "artifacts"))

    assert MlflowClient(uri).get_experiment(experiment).name == "imgexp"
    (aside,) = tmp_path.glob("mlflow.db.broken-*")  # the broken file is kept beside
    assert "_alembic_tmp_latest_metrics" in tables(aside)


def test_a_half_migrated_store_that_cannot_be_repaired_says_how(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    uri = killed_mid_migration(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE latest_metrics")  # its rows are only in the temporary table
    before = path.read_bytes()

    with pytest.raises(store.TrackingStoreError, match=rf"mv {path} {path}\.old"):
        store.prepare(uri, "imgexp", str(tmp_path / "artifacts"))
    assert path.read_bytes() == before  # left as it was


@pytest.mark.slow
def test_processes_opening_an_old_store_together_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "mlflow.db"
    uri = old_store(path)
    code = "import sys; from imgexp.tracking import store; store.prepare(*sys.argv[1:])"
    opening = [[sys.executable, "-c", code, uri, f"e{i}", str(tmp_path / "art")] for i in range(4)]
    results = finish_all(start_all(opening, tmp_path / "home"))

    assert_exited(results, {0})
    names = {experiment.name for experiment in MlflowClient(uri).search_experiments()}
    assert {"kept", "e0", "e1", "e2", "e3"} <= names
