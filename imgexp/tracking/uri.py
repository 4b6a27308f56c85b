"""Which MLflow store a command that reads past runs (rerun, report, predict, eval) opens when
none is named: the one training writes to by default (conf/tracking/mlflow.yaml's ``uri``),
found without composing a config."""

from __future__ import annotations

from pathlib import Path

from imgexp.paths.home import imgexp_home

STORE_FILE = "mlflow.db"


def default_tracking_uri() -> str:
    """imgexp's default store: the sqlite file under ``$IMGEXP_HOME`` (default ~/.imgexp)."""
    return f"sqlite:///{Path(imgexp_home()) / STORE_FILE}"
