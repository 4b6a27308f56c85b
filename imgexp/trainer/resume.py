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

A backup belongs to one live process: its owner holds a lock on it from the start until the run
finishes or the process dies (SIGKILL included; `backup_files.claim`). The same command started
again while the first still runs never attaches to it: it starts its own MLflow run, backed up
in ``<backup>-2`` (a warning says so), which the same command resumes in turn after a kill.

A run that ended before its first epoch was backed up (an error in the data or the config, or a
kill during epoch 1) has nothing to continue: the same command then starts a new run, the failed
one stays the record of its failure, and one left RUNNING by a killed process is marked KILLED.

The backup is written before the epoch's metrics are logged, so the state on disk is never
behind what MLflow shows. Exact equality needs every random state in the backup; random
augmentation in the tf.data pipeline and dropout draw from generators that are not in it, so
such runs continue correctly but not bit-for-bit.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import keras

from imgexp.tracking import names, store
from imgexp.tracking.run import RunLogger
from imgexp.trainer.backup_files import (
    KERAS_DIR,
    RUN_FILE,
    backup_dir,
    claim,
    read_json,
    release,
    write_json,
)
from imgexp.trainer.resume_callbacks import HistoryWriter, RestoreSync

log = logging.getLogger(__name__)


class ResumeSession:
    """One run's backup directory: which MLflow run to continue, the callbacks that keep the
    backup, and the full history across restarts."""

    def __init__(self, directory: Path, run_id: str | None) -> None:
        self.directory = directory
        self.run_id = run_id
        self.history: dict[str, list[float]] = {}
        self.resumed_epoch = 0

    @classmethod
    def open(cls, directory: Path, tracking: Any) -> ResumeSession:
        """Claim the config's backup ``directory`` (or a sibling of it when another live process
        owns it: `own_directory`); continue the stored MLflow run when it is still there."""
        directory = own_directory(directory)
        state = read_json(directory / RUN_FILE) or {}
        run_id = state.get("run_id")
        if state and not has_checkpoint(directory):
            # Ended (failed, or killed) before its first epoch was saved: nothing to continue,
            # and a failed run stays the record of its failure; the retry is a new run.
            log.info("backup %s holds no finished epoch; starting a new run", directory)
            close_abandoned(run_id, tracking)
            shutil.rmtree(directory, ignore_errors=True)
            state, run_id = {}, None
        if state and not usable_run(run_id, tracking):
            log.warning(
                "backup %s belongs to run %s, which this store cannot continue; starting afresh",
                directory,
                run_id,
            )
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
        release(self.directory)


def own_directory(base: Path) -> Path:
    """The backup directory this process claims for its config: ``base`` unless another live
    process owns it, else ``base-2``, ``base-3``...; among free ones, one holding a backup to
    continue (a dead owner's) first. A second identical command started while the first runs
    thus starts its own MLflow run and backup, resumable by that command in turn."""
    pattern = re.compile(re.escape(base.name) + r"-(\d+)")
    numbers = sorted(
        int(found.group(1))
        for path in base.parent.glob(f"{glob.escape(base.name)}-*")
        if (found := pattern.fullmatch(path.name)) and path.is_dir()
    )
    existing = [base] + [base.with_name(f"{base.name}-{n}") for n in numbers]
    free = [directory for directory in existing if claim(directory)]
    chosen = next((d for d in free if (d / RUN_FILE).exists()), free[0] if free else None)
    number = max(numbers, default=1) + 1
    while chosen is None:  # every existing one is owned: a new one
        candidate = base.with_name(f"{base.name}-{number}")
        chosen = candidate if claim(candidate) else None
        number += 1
    for directory in free:
        if directory != chosen:
            release(directory)
    if base not in free:
        log.warning(
            "another live process is running this config with the backup %s; this run starts "
            "its own MLflow run, backed up in %s",
            base,
            chosen,
        )
    return chosen


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

    client = store.client(tracking.uri)
    try:
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_tag(run_id, names.ERROR_TAG, "its process ended before the first epoch")
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

    try:
        run = store.client(tracking.uri).get_run(run_id)
    except MlflowException:
        return False
    return run.info.status != "FINISHED" and run.info.lifecycle_stage == "active"


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
