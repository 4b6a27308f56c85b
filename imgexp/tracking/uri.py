"""Which MLflow store and experiment a command uses, by one rule for every entry point:
an explicit ``--tracking-uri``/``tracking.uri=`` wins, then ``$MLFLOW_TRACKING_URI``, then
imgexp's default store (the sqlite file under ``$IMGEXP_HOME``); likewise the experiment:
``tracking.experiment=``, then ``$MLFLOW_EXPERIMENT_NAME``, then ``imgexp``.

MLflow's ``set_tracking_uri`` also writes ``$MLFLOW_TRACKING_URI`` (for its subprocesses), which
would make the store of one run the "user's choice" for the next run of the same process (a
notebook, a test session, an in-process sweep): `point_mlflow_at` keeps the variable as the user
set it."""

from __future__ import annotations

import os
from pathlib import Path

from imgexp.paths.home import imgexp_home

STORE_FILE = "mlflow.db"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "imgexp"


def default_tracking_uri() -> str:
    """imgexp's default store: the sqlite file under ``$IMGEXP_HOME`` (default ~/.imgexp)."""
    return f"sqlite:///{Path(imgexp_home()) / STORE_FILE}"


def tracking_uri(explicit: str | None = None) -> str:
    """The store to use: ``explicit``, else ``$MLFLOW_TRACKING_URI``, else the default."""
    return explicit or os.environ.get(TRACKING_URI_ENV) or default_tracking_uri()


def env_or(name: str, default: str) -> str:
    """``$name`` when set and not empty, else ``default`` (the YAML's ``${imgexp_env:...}``)."""
    return os.environ.get(name) or default


def point_mlflow_at(uri: str) -> None:
    """``mlflow.set_tracking_uri(uri)`` without changing ``$MLFLOW_TRACKING_URI``."""
    import mlflow

    before = os.environ.get(TRACKING_URI_ENV)
    mlflow.set_tracking_uri(uri)
    if before is None:
        os.environ.pop(TRACKING_URI_ENV, None)
    else:
        os.environ[TRACKING_URI_ENV] = before
