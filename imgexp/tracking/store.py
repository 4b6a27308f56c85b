"""The MLflow store: checked before training (writable, enough free space, server reachable),
experiment creation with an artifact root, and how to open the UI.

Every first open of a sqlite store in a process goes through `client` or `prepare`: the store
is created, migrated or repaired under its file lock (`imgexp.tracking.sqlite_store`), so that
processes started at the same moment never migrate it side by side."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from mlflow.tracking import MlflowClient

from imgexp.tracking import names, sqlite_store
from imgexp.tracking.env import DEFAULT_MIN_FREE_MB, MIN_FREE_MB_ENV
from imgexp.tracking.uri import point_mlflow_at

log = logging.getLogger(__name__)

REMOTE_SCHEMES = ("http", "https")


class TrackingStoreError(RuntimeError):
    """The tracking location cannot take a run (raised before any training starts)."""


# MLflow 3's UI opens an experiment of this kind on its runs table (not the GenAI overview).
EXPERIMENT_KIND = (names.EXPERIMENT_KIND_TAG, names.MODEL_TRAINING_KIND)


def prepare(uri: str, experiment: str, artifact_root: str | None) -> str:
    """Point MLflow at ``uri`` and return the experiment id, creating it with its artifacts
    under ``artifact_root`` (never MLflow's cwd-relative ./mlruns).

    With a tracking server (``http://...``) a local ``artifact_root`` is ignored: the server's
    ``--artifacts-destination`` holds the artifacts and proxies them to every client."""
    remote = is_remote(uri)
    if remote:
        check_server(uri)
    elif uri.startswith("sqlite:///"):
        check_directory(Path(uri.removeprefix("sqlite:///")).parent, "MLflow store")
    location = None
    if artifact_root and not remote:
        location = Path(artifact_root).expanduser().resolve()
        check_directory(location, "MLflow artifact root")
    elif artifact_root and "://" in artifact_root:
        location = artifact_root  # an explicit URI (s3://, mlflow-artifacts:/...) is passed on
    # One process at a time creates the store or the experiment.
    with store_errors(uri), sqlite_store.locked(uri):
        point_mlflow_at(uri)  # keeps $MLFLOW_TRACKING_URI as the user set it
        opened = client(uri)
        found = opened.get_experiment_by_name(experiment)
        if found is not None:
            existing = urlparse(found.artifact_location)
            if not remote and existing.scheme in ("", "file"):
                check_directory(Path(existing.path), "MLflow artifact location")
            if names.EXPERIMENT_KIND_TAG not in found.tags:  # made by another tool or imgexp
                opened.set_experiment_tag(found.experiment_id, *EXPERIMENT_KIND)
            return found.experiment_id
        if isinstance(location, Path):
            location = location.as_uri()
        try:
            return opened.create_experiment(
                experiment, artifact_location=location, tags=dict([EXPERIMENT_KIND])
            )
        except mlflow.exceptions.MlflowException:
            # A parallel job on a tracking server created it first.
            return opened.get_experiment_by_name(experiment).experiment_id


def client(uri: str) -> MlflowClient:
    """A client on ``uri``; a sqlite store is first created or brought to MLflow's current
    schema under its lock (once per process), or a TrackingStoreError says how to fix it."""
    with store_errors(uri):
        sqlite_store.ensure(uri)
    return MlflowClient(uri)


@contextlib.contextmanager
def store_errors(uri: str) -> Iterator[None]:
    """A store that cannot be opened, migrated or locked raises TrackingStoreError."""
    try:
        yield
    except sqlite_store.HalfMigrated as error:
        raise TrackingStoreError(str(error)) from None
    except sqlite3.DatabaseError as error:
        raise TrackingStoreError(f"{uri} is not a usable sqlite database ({error})") from None


def existing_client(uri: str) -> MlflowClient:
    """A client on a store that must already hold runs (rerun, report): fail fast, naming the
    URI, when the sqlite file is missing or the server is down."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise TrackingStoreError(
            f"no MLflow store at {uri} (pass --tracking-uri to choose another)"
        )
    if is_remote(uri):
        check_server(uri)  # seconds, not MLflow's minutes of retries
    return client(uri)


def is_remote(uri: str) -> bool:
    """True for a tracking server URI."""
    return urlparse(uri).scheme in REMOTE_SCHEMES


def check_directory(directory: Path, what: str) -> None:
    """Create ``directory`` if needed and prove it takes a file and has room, or say why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".imgexp-write-check-"):
            pass
    except OSError as error:
        raise TrackingStoreError(
            f"{what} {directory} is not writable ({error.strerror or error}); "
            "point tracking.uri / tracking.artifact_root (or $IMGEXP_HOME) at a writable "
            "directory, or use tracking=none"
        ) from error
    need_mb = float(os.environ.get(MIN_FREE_MB_ENV) or DEFAULT_MIN_FREE_MB)
    free_mb = shutil.disk_usage(directory).free / 2**20
    if free_mb < need_mb:
        raise TrackingStoreError(
            f"{what} {directory} has only {free_mb:.0f} MiB free; imgexp needs at least "
            f"{need_mb:.0f} MiB there for metrics, artifacts and models. Free some space, move "
            f"$IMGEXP_HOME, or lower ${MIN_FREE_MB_ENV}"
        )


def check_server(uri: str, timeout: float = 10.0) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when the server is not up."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s)
            response.read()
    except (urllib.error.URLError, OSError) as error:
        raise TrackingStoreError(
            f"MLflow tracking server {uri} does not answer ({error}); start it (docs/tracking.md: "
            "'Tracking server for many machines') or fix tracking.uri / $MLFLOW_TRACKING_URI"
        ) from error


def ui_command(uri: str, port: int = 5000) -> str:
    """The command that opens the MLflow UI on this store, bound to the loopback interface."""
    if is_remote(uri):
        return f"the tracking server serves it: {uri}"
    return f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port {port}"


# MLflow 3.17's UI opens every experiment in its GenAI mode (traces, tokens) whatever the
# experiment's mlflow.experimentKind tag says (checked in a browser); this query puts it in its
# model-training mode, with the runs table, metrics and models.
TRAINING_VIEW = "?workflowType=machine_learning"


def runs_url(experiment_id: str, run_id: str | None = None, port: int = 5000) -> str:
    """Link to a run (or the runs table) in the UI's model-training view."""
    base = f"http://127.0.0.1:{port}/#/experiments/{experiment_id}"
    return (f"{base}/runs/{run_id}" if run_id else f"{base}/runs") + TRAINING_VIEW
