"""``trainer.resume``: continue a crashed or killed run by re-running the same command.

Each run backs up its training state at every epoch end (Keras ``BackupAndRestore``: weights
and optimizer state) in a directory named after its resolved config,
``<paths.root>/backups/<dataset>-<model>-<config hash>/``, together with ``run.json`` (the
MLflow run id, pid, host) and ``history.json`` (every finished epoch's metrics). Re-running the
same command finds that directory, reopens the SAME MLflow run and continues from the last
completed epoch:

- epoch metrics are neither duplicated nor missing: an epoch whose backup was saved but whose
  metrics never reached MLflow (killed in between) is logged from ``history.json``;
- the training data order continues where it was (the shuffle is advanced past the finished
  epochs), so with ``trainer.deterministic=true`` the final metrics equal an uninterrupted run;
- the directory is deleted once the run has finished.

A run that ended before its first epoch was backed up (an error in the data or the config, or a
kill during epoch 1) has nothing to continue: the same command then starts a new run, the failed
one stays the record of its failure, and one left RUNNING by a killed process is marked KILLED.

The backup is written before the epoch's metrics are logged, so the state on disk is never
behind what MLflow shows. Exact equality needs every random state in the backup; random
augmentation in the tf.data pipeline and dropout draw from generators that are not in it, so
such runs continue correctly but not bit-for-bit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import keras

from imgexp.tracking.run import RunLogger

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
HISTORY_FILE = "history.json"
KERAS_DIR = "keras"


def backup_dir(container: dict[str, Any], root: str | Path) -> Path:
    """Where a config's backup lives: the same for the same resolved config."""
    keyed = json.loads(json.dumps(container, default=str))
    keyed.get("trainer", {}).pop("resume", None)
    digest = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]
    dataset = (container.get("dataset") or {}).get("name", "data")
    model = (container.get("model") or {}).get("name", "model")
    name = re.sub(r"[^\w.-]+", "_", f"{dataset}-{model}")
    return Path(root) / "backups" / f"{name}-{digest}"


def write_json(path: Path, data: Any) -> None:
    """Atomic write: a kill leaves the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The file's JSON, or None when missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResumeSession:
    """One run's backup directory: which MLflow run to continue, the callbacks that keep the
    backup, and the full history across restarts."""

    def __init__(self, directory: Path, run_id: str | None) -> None:
        self.directory = directory
        self.run_id = run_id
        self.history: dict[str, list[float]] = {}
        self.resumed_epoch = 0

    @classmethod
    def open(cls, directory: Path, tracking: Any) -> ResumeSession | None:
        """Look at ``directory``: None when another live process owns it (no backup then);
        otherwise a session, continuing the stored MLflow run when it is still there."""
        state = read_json(directory / RUN_FILE) or {}
        pid, host = state.get("pid"), state.get("host")
        if pid and pid != os.getpid() and host == socket.gethostname() and pid_alive(int(pid)):
            log.warning("a run with the same config (pid %s) is using %s; this one runs "
                        "without a backup", pid, directory)  # fmt: skip
            return None
        run_id = state.get("run_id")
        if state and not has_checkpoint(directory):
            # Ended (failed, or killed) before its first epoch was saved: nothing to continue,
            # and a failed run stays the record of its failure; the retry is a new run.
            log.info("backup %s holds no finished epoch; starting a new run", directory)
            close_abandoned(run_id, tracking)
            shutil.rmtree(directory, ignore_errors=True)
            state, run_id = {}, None
        if state and not usable_run(run_id, tracking):
            log.warning("backup %s belongs to run %s, which this store cannot continue; "
                        "starting afresh", directory, run_id)  # fmt: skip
            shutil.rmtree(directory, ignore_errors=True)
            state, run_id = {}, None
        if state:
            log.info("resuming MLflow run %s from the backup in %s", run_id, directory)
        return cls(directory, run_id)

    def bind(self, tracker: RunLogger) -> None:
        """Record which run this backup belongs to (before the first epoch)."""
        self.tracker = tracker
        self.directory.mkdir(parents=True, exist_ok=True)
        state = {"run_id": tracker.run_id, "pid": os.getpid(), "host": socket.gethostname()}
        write_json(self.directory / RUN_FILE, state)

    def callbacks(self, train: Any) -> list[keras.callbacks.Callback]:
        """In this order: save the epoch's metrics, back up the state, then (at train begin,
        after the restore) reconcile MLflow and the data order with the restored epoch."""
        return [
            HistoryWriter(self),
            keras.callbacks.BackupAndRestore(
                str(self.directory / KERAS_DIR), double_checkpoint=True, delete_checkpoint=False
            ),
            RestoreSync(self, train),
        ]

    def full_history(self, history: dict[str, list[float]]) -> dict[str, list[float]]:
        """Every epoch's metrics, those before the restart included."""
        return self.history if self.resumed_epoch else history

    def finish(self) -> None:
        """The run has finished: its backup is no longer needed."""
        shutil.rmtree(self.directory, ignore_errors=True)


def has_checkpoint(directory: Path) -> bool:
    """Whether BackupAndRestore saved at least one epoch there."""
    keras_dir = directory / KERAS_DIR
    return keras_dir.is_dir() and any(keras_dir.iterdir())


def close_abandoned(run_id: str | None, tracking: Any) -> None:
    """A run left RUNNING by a process that is gone (SIGKILL before its first epoch) is
    marked KILLED, so its status tells the truth."""
    if not (tracking.enabled and run_id):
        return
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking.uri)
    try:
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_tag(run_id, "imgexp.error", "its process ended before the first epoch")
            client.set_terminated(run_id, "KILLED")
    except MlflowException:
        log.warning("could not mark the abandoned run %s KILLED", run_id)


def usable_run(run_id: str | None, tracking: Any) -> bool:
    """True when the stored run exists in this store and has not finished."""
    if not tracking.enabled:
        return run_id is None
    if run_id is None:
        return False
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        run = MlflowClient(tracking.uri).get_run(run_id)
    except MlflowException:
        return False
    return run.info.status != "FINISHED" and run.info.lifecycle_stage == "active"


class HistoryWriter(keras.callbacks.Callback):
    """Appends each finished epoch's metrics to ``history.json`` (before the backup)."""

    def __init__(self, session: ResumeSession) -> None:
        super().__init__()
        self.session = session

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            values = self.session.history.setdefault(key, [])
            del values[epoch:]
            values.append(float(value))
        write_json(self.session.directory / HISTORY_FILE, self.session.history)


class RestoreSync(keras.callbacks.Callback):
    """After BackupAndRestore restored epoch E: keep the first E epochs of the saved history,
    log the ones MLflow lacks, and advance the training data's shuffle past E epochs."""

    def __init__(self, session: ResumeSession, train: Any) -> None:
        super().__init__()
        self.session = session
        self.train = train

    def on_train_begin(self, logs: dict | None = None) -> None:
        epoch = int(getattr(self.model, "_initial_epoch", None) or 0)
        if epoch <= self.session.resumed_epoch:
            return  # nothing restored, or a later fit() phase of the same run
        saved = read_json(self.session.directory / HISTORY_FILE) or {}
        self.session.history = {key: list(values[:epoch]) for key, values in saved.items()}
        self.session.resumed_epoch = epoch
        tracker = self.session.tracker
        logged = set(tracker.metric_steps("loss"))
        for step in range(1, epoch + 1):
            if step not in logged:
                tracker.log_metrics(
                    {k: v[step - 1] for k, v in self.session.history.items() if len(v) >= step},
                    step=step,
                )
        tracker.set_tags({"imgexp.resumed_from_epoch": epoch})
        per_epoch = self.params.get("shuffle_draws_per_epoch")  # set by the custom loop
        draws = per_epoch * epoch if per_epoch else shuffle_draws(self.train, epoch)
        for _ in range(draws):
            iter(self.train)  # each new iterator draws the next shuffle order
        log.info("resumed at epoch %d of the same run", epoch + 1)

    def on_train_end(self, logs: dict | None = None) -> None:
        losses = self.session.history.get("loss") or [0.0]
        if not math.isfinite(losses[-1]):
            self.session.finish()  # diverged weights are no state to continue from


def shuffle_draws(train: Any, epochs: int) -> int:
    """How many shuffle orders ``fit`` draws from ``train`` in ``epochs`` epochs: each new
    iterator draws one, and how many iterators Keras makes per epoch depends on its version and
    on whether the dataset's size is known, so it is measured on a tiny probe of that kind."""
    import tensorflow as tf

    known = int(tf.data.experimental.cardinality(train)) >= 0

    def draws_after(probe_epochs: int) -> int:
        base = tf.data.Dataset.range(8).shuffle(8, seed=0, reshuffle_each_iteration=True)
        batches = base if known else base.filter(lambda _: True)
        batches = batches.map(lambda i: (tf.cast([i], "float32"), tf.cast([0], "float32")))
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, "linear", False,
                                                                        "zeros")])  # fmt: skip
        model.compile(keras.optimizers.SGD(0.0), "mse")
        model.fit(batches.batch(2), epochs=probe_epochs, verbose=0)
        after = [int(v) for v in base]
        fresh = tf.data.Dataset.range(8).shuffle(8, seed=0, reshuffle_each_iteration=True)
        for count in range(16):
            if [int(v) for v in fresh] == after:
                return count
        raise RuntimeError("could not measure how Keras iterates a dataset")

    first, second = draws_after(1), draws_after(2)
    return first + (epochs - 1) * (second - first)


def start(cfg: Any, container: dict[str, Any]) -> ResumeSession | None:
    """The resume session of a run, or None when ``trainer.resume`` is off or the run is one
    worker of several (their backups would have to agree; restart the whole job instead)."""
    if not cfg.trainer.get("resume", False):
        return None
    strategy = cfg.trainer.get("strategy", "default")
    if str(getattr(strategy, "value", strategy)) == "multi_worker_mirrored":
        log.info("trainer.resume is not used with multi_worker_mirrored")
        return None
    return ResumeSession.open(backup_dir(container, cfg.paths.root), cfg.tracking)
