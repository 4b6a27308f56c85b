"""The MLflow store: experiment creation with an artifact root, and how to open the UI."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient


def prepare(uri: str, experiment: str, artifact_root: str | None) -> str:
    """Point MLflow at ``uri`` and return the experiment id, creating it with its artifacts
    under ``artifact_root`` (never MLflow's cwd-relative ./mlruns)."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    location = None
    if artifact_root:
        Path(artifact_root).mkdir(parents=True, exist_ok=True)
        location = Path(artifact_root).resolve().as_uri()
    try:
        return client.create_experiment(experiment, artifact_location=location)
    except mlflow.exceptions.MlflowException:
        # A parallel job created it first.
        return client.get_experiment_by_name(experiment).experiment_id


def ui_command(uri: str, port: int = 5000) -> str:
    """The command that opens the MLflow UI on this store, bound to the loopback interface."""
    return f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port {port}"


def runs_url(experiment_id: str, run_id: str | None = None, port: int = 5000) -> str:
    """Link to the runs table (MLflow 3 opens experiments on a GenAI overview page otherwise)."""
    base = f"http://127.0.0.1:{port}/#/experiments/{experiment_id}"
    return f"{base}/runs/{run_id}" if run_id else f"{base}/runs"
