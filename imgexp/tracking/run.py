"""One MLflow run per training job, whose status always tells the truth: FINISHED, FAILED with
the reason, or KILLED on Ctrl-C/SIGTERM; whatever was logged before a failure stays."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from omegaconf import DictConfig

from imgexp.tracking import names, store
from imgexp.tracking.env import PARENT_RUN_ENV
from imgexp.tracking.interrupts import interrupts_at_safe_points
from imgexp.tracking.secrets import MASK, Redactor, is_secret_key

log = logging.getLogger(__name__)


class RunLogger:
    """Thin facade over the active MLflow run; every method is a no-op when tracking is off.

    Everything passes through the run's `Redactor`, so credential values from the config never
    reach params, tags or artifacts, whoever logs them."""

    def __init__(
        self,
        run_id: str | None = None,
        experiment_id: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.redactor = redactor or Redactor({})

    @property
    def active(self) -> bool:
        """True when an MLflow run is being logged to."""
        return self.run_id is not None

    def log_params(self, params: dict[str, str]) -> None:
        """Log params in batches (MLflow takes at most 100 per call)."""
        if not self.active:
            return
        items = [
            (k, MASK if is_secret_key(k) else self.redactor.text(str(v)))
            for k, v in params.items()
        ]
        for start in range(0, len(items), 100):
            mlflow.log_params(dict(items[start : start + 100]))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """One batched call per step."""
        if self.active:
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def metric_steps(self, key: str) -> list[int]:
        """The steps already logged for a metric (a resumed run continues after them)."""
        if not self.active:
            return []
        client = mlflow.tracking.MlflowClient()
        return [metric.step for metric in client.get_metric_history(self.run_id, key)]

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Tags (values stringified, credentials masked)."""
        if self.active:
            mlflow.set_tags(self.redactor.tags(tags))

    def log_text(self, text: str, path: str) -> None:
        """A text artifact (a YAML one is masked key by key)."""
        if self.active:
            yaml_file = path.endswith((".yaml", ".yml"))
            mlflow.log_text(
                self.redactor.yaml_text(text) if yaml_file else self.redactor.text(text), path
            )

    def log_dict(self, data: Any, path: str) -> None:
        """A JSON/YAML artifact."""
        if self.active:
            mlflow.log_dict(self.redactor.tree(data), path)

    def log_figure(self, figure: Any, path: str) -> None:
        """A matplotlib figure as PNG."""
        if self.active:
            mlflow.log_figure(figure, path)

    def log_artifacts(self, local_dir: str | Path, path: str | None = None) -> None:
        """A directory of files; its text files (configs, logs) are logged masked."""
        if not (self.active and Path(local_dir).is_dir()):
            return
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifacts(str(self.redactor.copy_dir(Path(local_dir), Path(tmp))), path)


@contextlib.contextmanager
def tracked_run(
    cfg: DictConfig,
    run_name: str,
    tags: dict[str, Any],
    run_id: str | None = None,
    redactor: Redactor | None = None,
    parent_run_id: str | None = None,
) -> Iterator[RunLogger]:
    """Open the run (nested under a sweep's parent when there is one) and close it with the
    right status, logging the error of a failed run as a tag and a traceback artifact.

    ``run_id`` reopens an existing run (resume after a crash) instead of starting a new one;
    ``redactor`` (built from the run's config) masks its credentials in all that is logged.
    ``parent_run_id`` (a k-fold/repeat member) nests the run under that run, the active one
    of this process, instead of the sweep's parent from the environment."""
    if not cfg.enabled:
        yield RunLogger()
        return
    redactor = redactor or Redactor({})
    experiment_id = store.prepare(cfg.uri, cfg.experiment, cfg.get("artifact_root"))
    # An inherited MLFLOW_RUN_ID would make start_run resume that run instead of a new child.
    os.environ.pop("MLFLOW_RUN_ID", None)
    parent = parent_run_id or os.environ.get(PARENT_RUN_ENV) or None
    nested = parent_run_id is not None  # a member, inside its group's active run
    tags = redactor.tags(tags)
    system = system_metrics(bool(cfg.get("system_metrics", True)))
    if run_id is not None:
        run = mlflow.start_run(run_id=run_id, nested=nested, log_system_metrics=system)
        # A resumed job of a re-launched sweep moves under the new sweep's parent.
        mlflow.set_tags(tags | ({names.PARENT_TAG: parent} if parent else {}))
    else:
        run = mlflow.start_run(
            experiment_id=experiment_id,
            run_name=redactor.text(run_name),
            parent_run_id=parent,
            nested=nested,
            tags=tags,
            log_system_metrics=system,
        )
    logger = RunLogger(run.info.run_id, experiment_id, redactor)
    with interrupts_at_safe_points():
        try:
            yield logger
        except KeyboardInterrupt as error:
            end_run("KILLED", f"interrupted by {error or 'Ctrl-C'}")
            raise
        except BaseException as error:
            record_failure(error, redactor)
            end_run("FAILED")
            raise
        end_run("FINISHED")


SYSTEM_METRICS_INTERVAL_S = 2.0  # MLflow's default, 10 s, left short runs with no sample


class _MonitorNotices(logging.Filter):
    """MLflow announces starting and stopping its system-metrics monitor at INFO, every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(
            ("Started monitoring", "Stopping system metrics", "Skip logging GPU metrics",
             "Successfully terminated system metrics")
        )  # fmt: skip


def system_metrics(enabled: bool) -> bool:
    """Whether this run samples CPU, memory, disk and network (``tracking.system_metrics``)."""
    if enabled:
        mlflow.set_system_metrics_sampling_interval(SYSTEM_METRICS_INTERVAL_S)
        monitor = logging.getLogger("mlflow.system_metrics.system_metrics_monitor")
        if not any(isinstance(f, _MonitorNotices) for f in monitor.filters):
            monitor.addFilter(_MonitorNotices())
    return enabled


def end_run(status: str, reason: str | None = None) -> None:
    """End the active run with ``status``, even when tagging the reason fails: a run left
    active would be ended FINISHED by MLflow's atexit hook. A store error is logged, not
    raised, so it never hides the error that ended the run."""
    try:
        if reason:
            mlflow.set_tag(names.ERROR_TAG, reason)
    except Exception:  # noqa: BLE001 - the status matters more than the reason
        log.exception("could not tag the run with why it ended")
    try:
        mlflow.end_run(status=status)  # pops the run before it writes
    except Exception:  # noqa: BLE001
        log.exception("could not mark the MLflow run %s", status)


def record_failure(error: BaseException, redactor: Redactor | None = None) -> None:
    """Put the reason on the run: a short tag and the full traceback as error.txt."""
    redactor = redactor or Redactor({})
    message = redactor.text(f"{type(error).__name__}: {error}")
    try:
        mlflow.set_tag(names.ERROR_TAG, message[:5000])
        text = redactor.text("".join(traceback.format_exception(error)))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / names.ERROR_ARTIFACT
            path.write_text(text)
            mlflow.log_artifact(str(path))
    except Exception:  # noqa: BLE001 - never hide the original error
        log.exception("could not record the failure in MLflow")
