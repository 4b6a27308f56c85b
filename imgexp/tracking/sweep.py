"""Groups the runs of one ``--multirun`` in MLflow: a parent run opened in the launcher process
before any job starts (which also creates the store and experiment once, avoiding the
parallel-schema race on a fresh sqlite file), a nested child run per job, and at the end the
parent records the best child by the configured objective and lists the failed jobs.

The parent is closed whatever happens: Hydra's basic sweeper re-raises a failed job's error
after all jobs ran and then skips ``on_multirun_end``, so the closing also runs at interpreter
exit. `summarize` reads a sweep back from MLflow alone (any launcher, any machine), so later
tools (aggregation of repeats, reports) can build on it."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from imgexp.tracking.env import PARENT_RUN_ENV, SWEEP_NAME_ENV
from imgexp.tracking.interrupts import interrupted, interrupts_at_safe_points

log = logging.getLogger(__name__)

ROLE_TAG = "imgexp.role"
SWEEP_TAG = "imgexp.sweep"
PARENT_TAG = "mlflow.parentRunId"
# Set on the runs that hold a sweep's aggregates ("sweep") or a job's folds/repeats ("job").
GROUP_SOURCE_TAG = "imgexp.group.source"


@dataclass
class JobOutcome:
    """One child run of a sweep as MLflow recorded it."""

    run_id: str
    name: str
    status: str
    overrides: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def value(self, metric: str) -> float | None:
        """The objective, or None when the job did not produce a finite one."""
        value = self.metrics.get(metric)
        return value if value is not None and math.isfinite(value) else None


@dataclass
class SweepSummary:
    """Every job of a sweep, the best one by the objective and the failed ones."""

    parent_run_id: str
    metric: str
    direction: str
    jobs: list[JobOutcome]

    @property
    def failed(self) -> list[JobOutcome]:
        """Jobs that did not finish (FAILED, KILLED, or still RUNNING after a crash)."""
        return [job for job in self.jobs if job.status != "FINISHED"]

    @property
    def best(self) -> JobOutcome | None:
        """The finished job with the best objective value."""
        scored = [
            j for j in self.jobs if j.status == "FINISHED" and j.value(self.metric) is not None
        ]
        if not scored:
            return None
        pick = max if self.direction == "maximize" else min
        return pick(scored, key=lambda job: job.value(self.metric))

    def table(self) -> str:
        """A plain-text table of the jobs, best marked, failed ones with their error."""
        best = self.best
        lines = [f"{'':2}{'status':9} {self.metric:>14}  run / overrides"]
        for job in self.jobs:
            value = job.value(self.metric)
            shown = f"{value:14.4f}" if value is not None else f"{'-':>14}"
            mark = "* " if best is not None and job.run_id == best.run_id else "  "
            lines.append(f"{mark}{job.status:9} {shown}  {job.run_id} {job.overrides}")
            if job.error:
                lines.append(f"{'':27}error: {job.error[:200]}")
        lines.append(f"{len(self.jobs)} jobs, {len(self.failed)} failed")
        return "\n".join(lines)


def children(client: Any, parent_run_id: str) -> list[Any]:
    """All child runs of a parent (every page), oldest first, without the aggregate runs made
    at a sweep's end (they summarise jobs; they are not jobs)."""
    parent = client.get_run(parent_run_id)
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.{PARENT_TAG} = '{parent_run_id}'",
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(run for run in page if run.data.tags.get(GROUP_SOURCE_TAG) != "sweep")
        token = page.token
        if not token:
            return runs


def summarize(client: Any, parent_run_id: str, metric: str, direction: str) -> SweepSummary:
    """Read a sweep back from MLflow."""
    jobs = [
        JobOutcome(
            run_id=run.info.run_id,
            name=run.info.run_name,
            status=run.info.status,
            overrides=run.data.tags.get("imgexp.overrides", ""),
            metrics=dict(run.data.metrics),
            error=run.data.tags.get("imgexp.error"),
        )
        for run in children(client, parent_run_id)
    ]
    return SweepSummary(parent_run_id, metric, direction, jobs)


def record(client: Any, summary: SweepSummary) -> None:
    """Write the summary onto the parent: counts, best job and value, the job table."""
    parent = summary.parent_run_id
    client.set_tag(parent, "imgexp.n_jobs", str(len(summary.jobs)))
    client.set_tag(parent, "imgexp.n_failed", str(len(summary.failed)))
    client.set_tag(parent, "imgexp.failed_runs", " ".join(j.run_id for j in summary.failed))
    best = summary.best
    if best is not None:
        client.log_metric(parent, f"best_{summary.metric}", best.value(summary.metric))
        client.set_tag(parent, "imgexp.best_run_id", best.run_id)
        client.set_tag(parent, "imgexp.best_run_name", best.name)
        client.set_tag(parent, "imgexp.best_overrides", best.overrides)
    client.log_dict(parent, [asdict(job) for job in summary.jobs], "sweep/jobs.json")
    client.log_text(parent, summary.table(), "sweep/summary.txt")
    from imgexp.tracking import report  # mean ± std of seed/fold repeats, report table, curves

    report.record(client, summary)  # never raises


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
            SWEEP_TAG: name,
            ROLE_TAG: "sweep",
            "imgexp.sweep_dir": str(sweep_dir),
            "imgexp.sweeper": str(choices.get("hydra/sweeper")),
            "imgexp.launcher": str(choices.get("hydra/launcher")),
            "imgexp.hparams_search": str(choices.get("hparams_search")),
            "imgexp.objective": f"{config.objective.direction} {config.objective.metric}",
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

        client = MlflowClient(config.tracking.uri)
        status = "FINISHED" if completed else "FAILED"
        try:
            summary = summarize(
                client, parent_run_id, config.objective.metric, str(config.objective.direction)
            )
            record(client, summary)
            log_sweep_files(client, parent_run_id, Path(str(config.hydra.sweep.dir)))
            if signal_name := interrupted():
                status, reason = "KILLED", f"sweep interrupted by signal {signal_name}"
            elif summary.failed:
                reason = f"{len(summary.failed)} of {len(summary.jobs)} jobs did not finish"
            else:
                reason = "sweep aborted before its end"
            if status != "FINISHED":
                client.set_tag(parent_run_id, "imgexp.error", reason)
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
        client.log_text(parent_run_id, redactor.yaml_text(text), "sweep/multirun.yaml")
    results = sweep_dir / "optimization_results.yaml"
    if results.is_file():
        client.log_text(parent_run_id, results.read_text(), "sweep/optimization_results.yaml")
        best = OmegaConf.to_container(OmegaConf.load(results))
        for key, value in (best.get("best_params") or {}).items():
            client.set_tag(parent_run_id, f"imgexp.best_params.{key}", json.dumps(value))
