"""One MLflow run per training job, whose status always tells the truth: FINISHED, FAILED with
the reason, or KILLED on Ctrl-C/SIGTERM; whatever was logged before a failure stays."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from omegaconf import DictConfig

from imgexp.tracking import store
from imgexp.tracking.env import PARENT_RUN_ENV

log = logging.getLogger(__name__)


class RunLogger:
    """Thin facade over the active MLflow run; every method is a no-op when tracking is off."""

    def __init__(self, run_id: str | None = None, experiment_id: str | None = None) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id

    @property
    def active(self) -> bool:
        """True when an MLflow run is being logged to."""
        return self.run_id is not None

    def log_params(self, params: dict[str, str]) -> None:
        """Log params in batches (MLflow takes at most 100 per call)."""
        if not self.active:
            return
        items = list(params.items())
        for start in range(0, len(items), 100):
            mlflow.log_params(dict(items[start : start + 100]))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """One batched call per step."""
        if self.active:
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Tags (values stringified)."""
        if self.active:
            mlflow.set_tags({k: str(v) for k, v in tags.items()})

    def log_text(self, text: str, path: str) -> None:
        """A text artifact."""
        if self.active:
            mlflow.log_text(text, path)

    def log_dict(self, data: Any, path: str) -> None:
        """A JSON/YAML artifact."""
        if self.active:
            mlflow.log_dict(data, path)

    def log_figure(self, figure: Any, path: str) -> None:
        """A matplotlib figure as PNG."""
        if self.active:
            mlflow.log_figure(figure, path)

    def log_artifacts(self, local_dir: str | Path, path: str | None = None) -> None:
        """A directory of files."""
        if self.active and Path(local_dir).is_dir():
            mlflow.log_artifacts(str(local_dir), path)


@contextlib.contextmanager
def tracked_run(cfg: DictConfig, run_name: str, tags: dict[str, Any]) -> Iterator[RunLogger]:
    """Open the run (nested under a sweep's parent when there is one) and close it with the
    right status, logging the error of a failed run as a tag and a traceback artifact."""
    if not cfg.enabled:
        yield RunLogger()
        return
    experiment_id = store.prepare(cfg.uri, cfg.experiment, cfg.get("artifact_root"))
    # An inherited MLFLOW_RUN_ID would make start_run resume that run instead of a new child.
    os.environ.pop("MLFLOW_RUN_ID", None)
    parent = os.environ.get(PARENT_RUN_ENV) or None
    run = mlflow.start_run(
        experiment_id=experiment_id,
        run_name=run_name,
        parent_run_id=parent,
        tags={k: str(v) for k, v in tags.items()},
    )
    logger = RunLogger(run.info.run_id, experiment_id)
    with sigterm_as_interrupt():
        try:
            yield logger
        except KeyboardInterrupt:
            mlflow.set_tag("imgexp.error", "interrupted (Ctrl-C or SIGTERM)")
            mlflow.end_run(status="KILLED")
            raise
        except BaseException as error:
            record_failure(error)
            mlflow.end_run(status="FAILED")
            raise
    mlflow.end_run(status="FINISHED")


def record_failure(error: BaseException) -> None:
    """Put the reason on the run: a short tag and the full traceback as error.txt."""
    message = f"{type(error).__name__}: {error}"
    try:
        mlflow.set_tag("imgexp.error", message[:5000])
        text = "".join(traceback.format_exception(error))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "error.txt"
            path.write_text(text)
            mlflow.log_artifact(str(path))
    except Exception:  # noqa: BLE001 - never hide the original error
        log.exception("could not record the failure in MLflow")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only) so a killed job ends KILLED."""
    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread (e.g. a launcher's worker thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def raise_interrupt(signum: int, frame: Any) -> None:
    """Signal handler."""
    raise KeyboardInterrupt(f"signal {signum}")
