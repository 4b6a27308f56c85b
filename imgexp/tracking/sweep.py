"""Groups the runs of one ``--multirun`` in MLflow: a parent run opened in the launcher process
before any job starts (which also creates the store and experiment once, avoiding the
parallel-schema race on a fresh sqlite file), a nested child run per job, and at the end the
parent records the best child by the configured objective."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from imgexp.tracking.env import PARENT_RUN_ENV, SWEEP_NAME_ENV

log = logging.getLogger(__name__)


class MlflowSweepCallback(Callback):
    """Hydra callback: parent run per multirun (see module docstring)."""

    def __init__(self) -> None:
        self.parent_run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.tracking.enabled:
            return
        from mlflow.tracking import MlflowClient

        from imgexp.tracking import store

        name = "sweep-" + Path(str(config.hydra.sweep.dir)).name
        experiment_id = store.prepare(
            config.tracking.uri, config.tracking.experiment, config.tracking.get("artifact_root")
        )
        client = MlflowClient(config.tracking.uri)
        # The client (not the fluent API) keeps no run active in this process, so jobs that the
        # basic launcher runs in-process can start their own runs.
        parent = client.create_run(
            experiment_id,
            run_name=name,
            tags={"imgexp.sweep": name, "imgexp.role": "sweep",
                  "imgexp.sweep_dir": str(config.hydra.sweep.dir)},
        )  # fmt: skip
        self.parent_run_id = parent.info.run_id
        os.environ[PARENT_RUN_ENV] = self.parent_run_id
        os.environ[SWEEP_NAME_ENV] = name
        log.info("MLflow sweep parent run %s (%s)", self.parent_run_id, name)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent_run_id is None:
            return
        from mlflow.tracking import MlflowClient

        client = MlflowClient(config.tracking.uri)
        parent = client.get_run(self.parent_run_id)
        children = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{self.parent_run_id}'",
        )
        metric, direction = config.objective.metric, config.objective.direction
        scored = [
            (child.data.metrics[metric], child)
            for child in children
            if metric in child.data.metrics and not math.isnan(child.data.metrics[metric])
        ]
        client.set_tag(self.parent_run_id, "imgexp.n_jobs", str(len(children)))
        failed = [c for c in children if c.info.status != "FINISHED"]
        client.set_tag(self.parent_run_id, "imgexp.n_failed", str(len(failed)))
        if scored:
            pick = max if direction == "maximize" else min
            value, best = pick(scored, key=lambda pair: pair[0])
            client.log_metric(self.parent_run_id, f"best_{metric}", value)
            client.set_tag(self.parent_run_id, "imgexp.best_run_id", best.info.run_id)
            client.set_tag(self.parent_run_id, "imgexp.best_run_name", best.info.run_name)
        client.set_terminated(self.parent_run_id, "FINISHED" if not failed else "FAILED")
        os.environ.pop(PARENT_RUN_ENV, None)
        os.environ.pop(SWEEP_NAME_ENV, None)
