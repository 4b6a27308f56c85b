"""Shared fixtures: every test writes only under pytest's tmp dirs, never to the network."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import write_idx

# Before anything imports keras/matplotlib: their caches go to a throwaway dir, not ~.
_SESSION_HOME = tempfile.mkdtemp(prefix="imgexp-tests-")
os.environ["KERAS_HOME"] = os.path.join(_SESSION_HOME, "keras")
os.environ["MPLCONFIGDIR"] = os.path.join(_SESSION_HOME, "matplotlib")
os.environ["IMGEXP_HOME"] = os.path.join(_SESSION_HOME, "home")
os.environ.pop("IMGEXP_DATA_DIR", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point imgexp's home (MLflow store, outputs) at this test's tmp dir."""
    home = tmp_path / "imgexp-home"
    monkeypatch.setenv("IMGEXP_HOME", str(home))
    for name in ("IMGEXP_PARENT_RUN_ID", "IMGEXP_SWEEP_NAME", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def tiny_idx_dir(tmp_path: Path) -> Path:
    """A 200/50-image Fashion-MNIST-shaped dataset in the four standard idx .gz files."""
    rng = np.random.default_rng(0)
    directory = tmp_path / "fashion"
    directory.mkdir()
    for prefix, count in (("train", 200), ("t10k", 50)):
        labels = np.arange(count) % 10
        # Class-dependent brightness so that a model can learn something.
        images = rng.integers(0, 60, (count, 28, 28)) + (labels * 19)[:, None, None]
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images, 2051)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels, 2049)
    return directory


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory: pytest.TempPathFactory):
    """One tiny training run (digits MLP, registered as ``digits-tiny``) in its own MLflow store,
    shared by the evaluation, prediction and serving tests: ``(home, TrainResult)``."""
    import imgexp

    home = tmp_path_factory.mktemp("trained-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMGEXP_HOME", str(home))
        result = imgexp.train(
            "dataset=digits", "trainer.epochs=3", "model.hidden_units=[32]",
            "tracking.register_model=digits-tiny",
        )  # fmt: skip
    return home, result
