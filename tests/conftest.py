"""Shared fixtures: every test writes only under pytest's tmp dirs, never to the network."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import write_idx
from omegaconf import DictConfig

# Before anything imports keras/matplotlib: their caches go to a throwaway dir, not ~.
_SESSION_HOME = tempfile.mkdtemp(prefix="imgexp-tests-")
os.environ["KERAS_HOME"] = os.path.join(_SESSION_HOME, "keras")
os.environ["MPLCONFIGDIR"] = os.path.join(_SESSION_HOME, "matplotlib")
os.environ["IMGEXP_HOME"] = os.path.join(_SESSION_HOME, "home")
os.environ.pop("IMGEXP_DATA_DIR", None)
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


class SubprocessInFastTest(OSError, subprocess.SubprocessError):
    """A test not marked ``slow`` tried to start a process. An OSError and a SubprocessError,
    so that code which tolerates a missing program (``imgexp.job.git_commit``, matplotlib's
    ``fc-list``) carries on without it, while a test's own subprocess fails loudly."""


@contextlib.contextmanager
def no_child_processes(test: str) -> Iterator[None]:
    """Refuse every way of starting a process: `subprocess.Popen` (whatever imported it: the
    check sits in ``_execute_child``), ``os.system``, ``os.fork`` (multiprocessing),
    ``os.posix_spawn``."""

    def refuse(what: object) -> None:
        raise SubprocessInFastTest(
            f"{test} tried to start a process ({what}) but is not marked slow: "
            "mark this test @pytest.mark.slow (the fast lane, `make test-fast`, runs no "
            "subprocess), or keep it in-process"
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            subprocess.Popen, "_execute_child", lambda self, args, *_, **__: refuse(args)
        )
        for name in ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                patch.setattr(os, name, lambda *args, _name=name, **_: refuse(f"os.{_name}"))
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    return (yield from guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    return (yield from guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    return (yield from guarded(item))


def guarded(item: pytest.Item):
    """Run one phase of a test (its fixtures of any scope included) with processes refused,
    unless the test is marked slow."""
    if item.get_closest_marker("slow"):
        return (yield)
    with no_child_processes(item.nodeid):
        return (yield)


def template_store() -> Path:
    """A new, empty MLflow store built once per test process by imgexp's own store code.
    Building one costs 3-10 s of MLflow's schema migrations; a copy costs milliseconds."""
    path = Path(_SESSION_HOME) / "template-store" / "mlflow.db"
    if not path.exists():
        from imgexp.tracking.sqlite_store import ensure

        ensure(f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """Point imgexp's home (MLflow store, outputs) at this test's tmp dir, its default store a
    copy of an empty one (`template_store`) unless the test is marked ``fresh_store``."""
    home = tmp_path / "imgexp-home"
    if not request.node.get_closest_marker("fresh_store"):
        home.mkdir()
        shutil.copyfile(template_store(), home / "mlflow.db")
    monkeypatch.setenv("IMGEXP_HOME", str(home))
    for name in ("IMGEXP_PARENT_RUN_ID", "IMGEXP_SWEEP_NAME", "MLFLOW_RUN_ID",
                 "MLFLOW_EXPERIMENT_NAME"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    # Set (empty = unset, for imgexp and MLflow alike) rather than deleted: pytest then removes
    # it after the test, even when the test set it itself (a direct mlflow.set_tracking_uri
    # exports it), so no store leaks into the next test's module-scoped fixtures.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
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
            "tracking.register_model=digits-tiny", "tracking.register_alias=champion",
        )  # fmt: skip
    return home, result


class TinyPreset:
    """``tiny_preset(preset, *overrides)``: the config of ``imgexp experiment=<preset>``
    (through `imgexp.config.compose_config`), shrunk to train in seconds on a CPU: generated
    images of the preset's size, channels and classes (`imgexp.dataset.synthetic`), one epoch
    of two steps of two images, no tracking, no real files, no downloads. ``overrides`` come
    last and win (``"trainer.epochs=2"``, ``"tracking=mlflow"``).

    ``.overrides(...)`` gives the same as override strings (for ``imgexp.train`` or the CLI),
    ``.train(...)`` trains it through ``imgexp.train``."""

    SHRINK = (
        "dataset._target_=imgexp.dataset.synthetic.load", "dataset.data_dir=null",
        "trainer.epochs=1", "trainer.steps_per_epoch=2", "trainer.batch_size=2",
        "tracking=none", "trainer.verbose=0",
    )  # fmt: skip

    def __call__(self, preset: str, *overrides: str) -> DictConfig:
        from imgexp.config import compose_config

        return compose_config(*self.overrides(preset, *overrides))

    def overrides(self, preset: str, *overrides: str) -> list[str]:
        from imgexp.config import compose_config

        fitting = self.fitting(compose_config(f"experiment={preset}"))
        return [f"experiment={preset}", *self.SHRINK, *fitting, *overrides]

    def train(self, preset: str, *overrides: str):
        import imgexp

        return imgexp.train(*self.overrides(preset, *overrides))

    @staticmethod
    def fitting(cfg: DictConfig) -> list[str]:
        """What generated data and a CPU need besides SHRINK, read off the preset as it is
        (shrunk, an unfreezing or warmup epoch would be refused)."""
        extra = []
        if not cfg.dataset.image_size:  # in-memory datasets: their native size
            size = [28, 28] if "mnist" in cfg.dataset.name else [32, 32]
            extra.append(f"dataset.image_size={size}")
        if cfg.dataset.validation.source == "dir":  # generated arrays have no val/ folder
            extra.append("dataset.validation.source=train")
        if cfg.dataset.validation.size >= 1:  # a count (3000 of CIFAR-10) -> a fraction
            extra.append("dataset.validation.size=0.2")
        if cfg.model.name == "transfer":  # no weight downloads; 64 px instead of 200/224 px:
            # the same backbone at a tenth of the CPU time (unfreezing: test_trainers)
            extra += [
                "model.weights=null", "trainer.unfreeze.epoch=null", "dataset.image_size=[64,64]",
            ]  # fmt: skip
        if cfg.schedule.get("warmup_epochs"):  # warm up for half of the one epoch
            extra.append("schedule.warmup_epochs=0.5")
        if cfg.model.name == "functional_cnn":  # 43M parameters: same layers, narrower
            extra += ["model.conv_filters=[4,4,4,4,4,4]", "model.dense_units=[8,8,8]"]
        return extra


@pytest.fixture
def tiny_preset() -> TinyPreset:
    """Any preset, composed and shrunk to run in seconds: see `TinyPreset`."""
    return TinyPreset()
