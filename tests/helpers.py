"""Helpers shared by the tests (imported as ``helpers``; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient


def store_uri(home: Path) -> str:
    """The default MLflow store of an imgexp home."""
    return f"sqlite:///{home}/mlflow.db"


def run_cli(
    *args: str,
    home: Path,
    timeout: int = 300,
    check: bool = True,
    script: str = "imgexp",
    env: dict[str, str] | None = None,
):
    """Run a real console script (``imgexp``, ``imgexp-eval``, ...) in a subprocess with its
    home in ``home`` (and the extra environment variables ``env``)."""
    env = dict(os.environ, IMGEXP_HOME=str(home), **(env or {}))
    command = [str(Path(sys.executable).parent / script), *args]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout, cwd=home.parent
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    """Write an idx.gz file (the MNIST format) for fixtures."""
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def sweep_runs(uri: str) -> tuple[object, list]:
    """(the parent run, its children) of the single sweep in a store."""
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (parent,) = [r for r in runs if r.data.tags.get("imgexp.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return parent, children


def full_scan(paths: list[str]) -> list:
    """Every file checked alone (`imgexp.dataset.scan.check_image`, as prediction checks one):
    the reference a folder scan's results must equal."""
    from imgexp.dataset import scan

    return [scan.check_image(str(path)) for path in paths]
