"""The Hydra callback that groups the runs of one ``--multirun`` in MLflow: a parent run opened
in the launcher process before any job starts (which also creates the store and experiment
once, avoiding the parallel-schema race on a fresh sqlite file), a nested child run per job,
and at the end the parent records the best child by the configured objective and lists the
failed jobs (`summary`), with the report table (`report`).

The parent is closed whatever happens: Hydra's basic sweeper re-raises a failed job's error
after all jobs ran and then skips ``on_multirun_end``, so the closing also runs at interpreter
exit."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from imgexp.groups.summary import record, summarize
from imgexp.tracking import names
from imgexp.tracking.env import PARENT_RUN_ENV, SWEEP_NAME_ENV
from imgexp.tracking.interrupts import interrupted, interrupts_at_safe_points

log = logging.getLogger(__name__)


def open_parent(client: Any, experiment_id: str, config: DictConfig) -> tuple[str, str]:
    """Create the parent run (with the client, so no run is active in this process and jobs
    that the basic launcher runs in-process can start their own) and return (id, name)."""
    sweep_dir = Path(str(config.hydra.sweep.dir))
    name = "sweep-" + sweep_dir.name
    choices = config.hydra.runtime.choices
    parent = client.create_run(
        experiment_id,
        run_name=name,
        tags={
            names.SWEEP_TAG: name,
            names.ROLE_TAG: "sweep",
            names.SWEEP_DIR_TAG: str(sweep_dir),
            names.SWEEPER_TAG: str(choices.get("hydra/sweeper")),
            names.LAUNCHER_TAG: str(choices.get("hydra/launcher")),
            names.HPARAMS_SEARCH_TAG: str(choices.get("hparams_search")),
            names.OBJECTIVE_TAG: f"{config.objective.direction} {config.objective.metric}",
        },
    )
    return parent.info.run_id, name


class MlflowSweepCallback(Callback):
    """Hydra callback: parent run per multirun (see module docstring)."""

    def __init__(self) -> None:
        self.parent_run_id: str | None = None
        self._config: DictConfig | None = None
        # Ctrl-C/SIGTERM between jobs (or in the launcher's wait) ends the sweep KILLED, not
        # the process at once with the parent left RUNNING; each job has its own inside.
        self._interrupts = contextlib.ExitStack()

    def __getstate__(self) -> dict[str, Any]:
        """Launchers (joblib, submitit) pickle the callbacks for their workers; the signal
        handlers stay with the launcher process."""
        return {key: value for key, value in self.__dict__.items() if key != "_interrupts"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _interrupts=contextlib.ExitStack())

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.tracking.enabled:
            return
        from mlflow.tracking import MlflowClient

        from imgexp.tracking import store

        experiment_id = store.prepare(
            config.tracking.uri, config.tracking.experiment, config.tracking.get("artifact_root")
        )
        client = MlflowClient(config.tracking.uri)
        self.parent_run_id, name = open_parent(client, experiment_id, config)
        self._config = config
        os.environ[PARENT_RUN_ENV] = self.parent_run_id
        os.environ[SWEEP_NAME_ENV] = name
        atexit.register(self.close, completed=False)
        self._interrupts.enter_context(interrupts_at_safe_points())
        log.info("MLflow sweep parent run %s (%s)", self.parent_run_id, name)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.close(completed=True)

    def close(self, completed: bool) -> None:
        """Summarise and end the parent run once: FINISHED when the sweep ran to its end,
        FAILED when a job failed (they are listed on it) or it was aborted, KILLED when
        Ctrl-C/SIGTERM stopped it."""
        if self.parent_run_id is None or self._config is None:
            return
        self._interrupts.close()
        parent_run_id, config = self.parent_run_id, self._config
        self.parent_run_id = None
        os.environ.pop(PARENT_RUN_ENV, None)
        os.environ.pop(SWEEP_NAME_ENV, None)
        from mlflow.tracking import MlflowClient

        from imgexp.groups import report  # matplotlib: only once the sweep ends

        client = MlflowClient(config.tracking.uri)
        status = "FINISHED" if completed else "FAILED"
        try:
            summary = summarize(
                client, parent_run_id, config.objective.metric, str(config.objective.direction)
            )
            record(client, summary)
            report.record(client, summary)  # never raises
            log_sweep_files(client, parent_run_id, Path(str(config.hydra.sweep.dir)))
            if signal_name := interrupted():
                status, reason = "KILLED", f"sweep interrupted by signal {signal_name}"
            elif summary.failed:
                reason = f"{len(summary.failed)} of {len(summary.jobs)} jobs did not finish"
            else:
                reason = "sweep aborted before its end"
            if status != "FINISHED":
                client.set_tag(parent_run_id, names.ERROR_TAG, reason)
        finally:
            client.set_terminated(parent_run_id, status)


def log_sweep_files(client: Any, parent_run_id: str, sweep_dir: Path) -> None:
    """The sweep's own files on the parent: Hydra's multirun.yaml (credentials masked) and,
    for the Optuna sweeper, optimization_results.yaml (best params and value)."""
    from imgexp.tracking.secrets import Redactor

    multirun = sweep_dir / "multirun.yaml"
    if multirun.is_file():
        text = multirun.read_text()
        redactor = Redactor(OmegaConf.to_container(OmegaConf.create(text), resolve=False))
        client.log_text(parent_run_id, redactor.yaml_text(text), names.SWEEP_MULTIRUN_ARTIFACT)
    results = sweep_dir / "optimization_results.yaml"
    if results.is_file():
        client.log_text(parent_run_id, results.read_text(), names.SWEEP_OPTUNA_ARTIFACT)
        best = OmegaConf.to_container(OmegaConf.load(results))
        for key, value in (best.get("best_params") or {}).items():
            client.set_tag(parent_run_id, names.BEST_PARAMS_TAG_PREFIX + key, json.dumps(value))
