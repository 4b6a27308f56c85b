"""Typed schema of the ``tracking`` config group."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrackingConfig:
    """Where and what MLflow logs. `enabled: false` is `tracking=none` (no store touched)."""

    enabled: bool = True
    uri: str = "sqlite:///mlflow.db"
    artifact_root: str | None = None
    experiment: str = "imgexp"
    run_name: str | None = None
    log_model: bool = True
    # Register the logged model under this name in the MLflow Model Registry (a new version each
    # run); null = do not register.
    register_model: str | None = None
    # With register_model: move this alias (e.g. champion) to the new version, so that
    # models:/<name>@<alias> (predict, eval, mlflow models serve) follows the latest run.
    register_alias: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # MLflow's System metrics tab: CPU, memory, disk, network (and the GPU with the `gpu` extra).
    system_metrics: bool = True


SCHEMAS = {"base_tracking": TrackingConfig}
