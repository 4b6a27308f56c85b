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
    tags: dict[str, str] = field(default_factory=dict)


SCHEMAS = {"base_tracking": TrackingConfig}
