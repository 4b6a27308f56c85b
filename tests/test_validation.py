"""Bad input fails early and reads as a message: ranges checked before TensorFlow loads, an
explicit path is authoritative, a logged config is untrusted input, and the command line ends a
user error with a short message instead of a traceback."""

from __future__ import annotations

import dataclasses
import sys
import time
import typing
from pathlib import Path

import pytest
from helpers import run_cli, store_uri
from omegaconf import OmegaConf

from imgexp import config, config_checks, rerun, targets
from imgexp.cli import failure
from imgexp.config import compose_config
from imgexp.dataset import idx, locate
from imgexp.errors import ConfigError, DataNotFoundError, UntrustedTargetError, UserError
from imgexp.job import plain_config

# --- B: ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override,expected",
    [
        ("trainer.epochs=-1", "trainer.epochs=-1: must be an integer >= 1"),
        ("trainer.batch_size=0", "trainer.batch_size=0: must be an integer >= 1"),
        ("dataset.image_size=[0,0]", "dataset.image_size=[0,0]: must be a list of 2 items"),
        ("dataset.image_size=[32]", "dataset.image_size=[32]: must be a list of 2 items"),
        ("dataset.validation.size=2.0", "dataset.validation.size=2.0: must be an integer count"),
        ("dataset.validation.size=0", "fraction in (0, 1)"),
        ("dataset.test_size=1.0", "dataset.test_size=1.0: must be an integer count >= 1"),
        ("optimizer.learning_rate=0", "optimizer.learning_rate=0.0: must be a number > 0"),
        ("model.dropout=1.0", "model.dropout=1.0: must be a number in [0, 1)"),
        ("dataset.cv.folds=-1", "dataset.cv.folds=-1: must be an integer >= 0"),
        ("dataset.cv.fold=1", "dataset.cv.fold=1 needs dataset.cv.folds=k >= 2"),
        ("trainer.unfreeze.epoch=10", "trainer.unfreeze.epoch=10: must lie between 1 and"),
        ("trainer.jit_compile=1", "trainer.jit_compile=1: must be one of true, false, auto"),
        ("trainer.label_smoothing=-0.1", "must be a number in [0, 1)"),
        ("objective.direction=up", "objective.direction=up: must be one of maximize, minimize"),
        ("dataset.validation.size=abc", "dataset.validation.size=abc"),
    ],
)
def test_a_value_out_of_range_names_key_value_and_range(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        compose_config(override)
    assert expected in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        compose_config("trainer.epochs=0", "trainer.batch_size=0", "model.hidden_units=[0]")
    assert len(str(info.value).splitlines()) == 3


def test_counts_and_fractions_stay_apart() -> None:
    assert compose_config("dataset.validation.size=40").dataset.validation.size == 40
    assert compose_config("dataset.validation.size=0.4").dataset.validation.size == 0.4


NUMERIC = {"int", "float", "list[int]", "list[float]"}


def numeric(annotation: str) -> bool:
    plain = annotation.replace(" | None", "")
    return plain in NUMERIC


def all_schemas() -> list[type]:
    found = {config.Config, config.ObjectiveConfig}
    for schemas in config.GROUPS.values():
        found.update(schemas.values())
    for schema in list(found):
        for spec in dataclasses.fields(schema):
            kind = typing.get_type_hints(schema).get(spec.name)
            if dataclasses.is_dataclass(kind):
                found.add(kind)
    return sorted(found, key=lambda s: s.__qualname__)


@pytest.mark.parametrize("schema", all_schemas(), ids=lambda s: s.__qualname__)
def test_every_number_in_every_schema_has_a_range(schema: type) -> None:
    missing = [
        spec.name
        for spec in dataclasses.fields(schema)
        if numeric(str(spec.type)) and config_checks.RANGE not in spec.metadata
    ]
    assert not missing, f"{schema.__qualname__}: give {missing} a range (config_checks.ranged)"
    # ... and its defaults are inside them.
    assert config_checks.range_problems(OmegaConf.structured(schema)) == []


def test_a_missing_config_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"config_dir={tmp_path / 'nope'}: no such directory"):
        compose_config(config_dir=tmp_path / "nope")


# --- A: an explicit path is authoritative --------------------------------------------------


def dataset_cfg(**values):
    return OmegaConf.create(
        {"name": "fashion_mnist", "data_dir": None, "download": False} | values
    )


def test_explicit_data_dir_is_the_only_place_looked(tiny_idx_dir: Path, tmp_path: Path,
                                                    monkeypatch) -> None:  # fmt: skip
    """The Debian-copy trap: a copy elsewhere must not stand in for a mistyped data_dir."""
    monkeypatch.setenv("IMGEXP_DATA_DIR", str(tiny_idx_dir.parent))
    source = dataclasses.replace(idx.FASHION_MNIST, system_dir=str(tiny_idx_dir))
    assert idx.load_idx_dataset(dataset_cfg(), source).source == str(tiny_idx_dir)  # searched
    missing = tmp_path / "nonexistent" / "fm"
    with pytest.raises(DataNotFoundError) as info:
        idx.load_idx_dataset(dataset_cfg(data_dir=str(missing)), source)
    message = str(info.value)
    assert f"dataset.data_dir={missing} does not exist" in message
    assert "train-images-idx3-ubyte.gz" in message and "$IMGEXP_DATA_DIR" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=f"data_dir={empty} does not hold them"):
        idx.load_idx_dataset(dataset_cfg(data_dir=str(empty)), source)
    assert locate.search_dirs(dataset_cfg(data_dir=str(empty)), ["x"], ["/y"]) == [empty]


def test_missing_class_names_file_fails_before_loading(tmp_path: Path, capsys) -> None:
    from imgexp.cli import predict_command

    with pytest.raises(SystemExit) as info:
        predict_command.main(["model.keras", "x.png", "--class-names", str(tmp_path / "n.json")])
    assert info.value.code == 2
    assert f"--class-names {tmp_path / 'n.json'}: no such file" in capsys.readouterr().err


# --- C: a logged config is untrusted input -------------------------------------------------

PROBE = "imgexp_probe_module"  # a module that would leave a mark if anything imported it


@pytest.fixture
def probe(tmp_path: Path, monkeypatch) -> Path:
    mark = tmp_path / "imported"
    (tmp_path / f"{PROBE}.py").write_text(
        f"from pathlib import Path\nPath({str(mark)!r}).write_text('x')\ndef build(*a, **k): ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return mark


def logged(**changes: object) -> dict:
    """A config as imgexp logs it, with dotted ``changes``."""
    raw = plain_config(compose_config("dataset=digits"))
    tree = OmegaConf.create(raw)
    for key, value in changes.items():
        OmegaConf.update(tree, key, value, force_add=True)
    return OmegaConf.to_container(tree)


EVIL = ["subprocess.run", "os.system", "shutil.rmtree", "builtins.eval", f"{PROBE}.build"]
PLACES = [
    "dataset._target_",
    "model._target_",
    "trainer.callbacks.terminate_on_nan._target_",
    "augmentation.mix",
]


@pytest.mark.parametrize("target", EVIL)
@pytest.mark.parametrize("place", PLACES)
def test_a_logged_target_outside_the_allowlist_is_refused_unimported(
    target: str, place: str, probe: Path
) -> None:
    value = {"_target_": target, "args": "rm -rf ~"} if place == "augmentation.mix" else target
    with pytest.raises(UntrustedTargetError) as info:
        rerun.logged_config(logged(**{place: value}), "run x's config/config.yaml")
    assert f"={target}" in str(info.value) and targets.ALLOWED_ENV in str(info.value)
    assert PROBE not in sys.modules and not probe.exists()


def test_a_user_module_is_allowed_by_the_env_var(probe: Path, monkeypatch) -> None:
    raw = logged(**{"model._target_": f"{PROBE}.build"})
    monkeypatch.setenv(targets.ALLOWED_ENV, f"other.pkg, {PROBE}")
    cfg = rerun.logged_config(raw, "run x")
    assert cfg.model._target_ == f"{PROBE}.build" and cfg.dataset.name == "digits"
    assert PROBE not in sys.modules and not probe.exists()  # allowed is not imported yet


def test_imgexp_and_keras_targets_of_every_option_are_allowed() -> None:
    conf = Path(config.__file__).parents[1] / "conf"
    options = [f"experiment={p.stem}" for p in sorted(conf.glob("experiment/*.yaml"))] + [
        f"{p.parent.name}={p.stem}"
        for group in ("dataset", "model", "optimizer", "schedule", "augmentation", "trainer")
        for p in sorted(conf.glob(f"{group}/*.yaml"))
    ]
    for option in options:
        targets.check_targets(plain_config(compose_config(option)), option)
    for name in ("keras.layers.Lambda", "keras.optimizers.deserialize", "keras.Model.__init__"):
        assert not targets.is_allowed(name)


def test_logged_config_goes_through_the_schemas() -> None:
    with pytest.raises(ConfigError, match="trainer.epochz"):
        rerun.logged_config(logged(**{"trainer.epochz": 3}), "run x")
    with pytest.raises(ConfigError, match="interpolations.*tracking.experiment"):
        rerun.logged_config(logged(**{"tracking.experiment": "${oc.env:HOME}"}), "run x")
    old = rerun.logged_config(logged(**{"dataset.validation.size": 40.0}), "run x")
    assert old.dataset.validation.size == 40  # logged before counts were told from fractions
    typed = rerun.logged_config(logged(), "run x")
    assert OmegaConf.get_type(typed.trainer).__name__ == "TrainerConfig"
    overridden = OmegaConf.create(OmegaConf.to_container(typed))
    overridden.trainer.epochs = "abc"  # what `imgexp rerun <id> trainer.epochs=abc` composes
    with pytest.raises(ConfigError, match="trainer.epochs"):
        rerun.checked_config(overridden, "run x")


@pytest.fixture
def logged_run(isolated_home: Path):
    """A run in an MLflow store holding nothing but a config artifact (no training)."""
    import mlflow

    def make(raw: dict) -> str:
        mlflow.set_tracking_uri(store_uri(isolated_home))
        with mlflow.start_run() as run:
            mlflow.log_text(OmegaConf.to_yaml(raw), rerun.CONFIG_ARTIFACT)
        return run.info.run_id

    return make


def test_rerun_refuses_before_importing_and_checks_ranges(logged_run, probe: Path) -> None:
    bad = logged_run(logged(**{"dataset._target_": f"{PROBE}.build"}))
    with pytest.raises(UntrustedTargetError, match=f"dataset._target_={PROBE}.build"):
        rerun.rerun(bad, [])
    assert PROBE not in sys.modules and not probe.exists()
    good = logged_run(logged())
    with pytest.raises(ConfigError, match="trainer.epochs=-1: must be an integer >= 1"):
        rerun.rerun(good, ["trainer.epochs=-1"])


# --- D: a user error reads as a message ----------------------------------------------------


def test_guard_reports_user_errors_and_keeps_tracebacks_of_bugs(capsys, monkeypatch) -> None:
    from imgexp.tracking.store import TrackingStoreError

    def fail(error: Exception):
        return lambda: (_ for _ in ()).throw(error)

    assert failure.guard("imgexp x", fail(ConfigError("a.b=1: must be 2"))) == 2
    assert capsys.readouterr().err == "imgexp x: error: a.b=1: must be 2\n"
    assert failure.guard("imgexp x", fail(TrackingStoreError("store down"))) == 2
    with pytest.raises(KeyError):
        failure.guard("imgexp x", fail(KeyError("a bug")))
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(UserError):
        failure.guard("imgexp x", fail(ConfigError("wanted: the traceback")))


RANGE_ERRORS = [
    ("trainer.epochs=-1", "trainer.epochs=-1: must be an integer >= 1"),
    ("dataset.validation.size=2.0", "dataset.validation.size=2.0: must be an integer count"),
]
LATE_ERRORS = [
    (
        ["dataset=fashion_mnist", "dataset.data_dir=/nonexistent/fm"],
        "dataset.data_dir=/nonexistent/fm does not exist",
    ),
    (["tracking.uri=http://127.0.0.1:9"], "fix tracking.uri"),
]


@pytest.mark.slow
@pytest.mark.parametrize("override,expected", RANGE_ERRORS)
def test_cli_range_error_is_a_message_before_tensorflow(
    override, expected, isolated_home, monkeypatch
) -> None:
    start = time.perf_counter()
    result = run_cli(override, home=isolated_home, check=False)
    elapsed = time.perf_counter() - start
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"imgexp: error: {expected}")
    # TensorFlow alone takes 8-10 s to import here: the check must come before it.
    assert elapsed < 5, f"{elapsed:.1f} s to a range error: TensorFlow loaded first?"
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    full = run_cli(override, home=isolated_home, check=False)
    assert full.returncode != 0 and "Traceback" in full.stderr and expected in full.stderr


@pytest.mark.slow
@pytest.mark.parametrize("overrides,expected", LATE_ERRORS, ids=["data_dir", "tracking"])
def test_cli_data_and_store_errors_are_messages(overrides, expected, isolated_home) -> None:
    result = run_cli(*overrides, "trainer.epochs=1", home=isolated_home, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert expected in "\n".join(result.stderr.strip().splitlines()[-8:])
    if "tracking.uri" not in overrides[0]:  # the run exists and says why it failed
        from mlflow.tracking import MlflowClient

        client = MlflowClient(store_uri(isolated_home))
        (run,) = client.search_runs([client.get_experiment_by_name("imgexp").experiment_id])
        assert run.info.status == "FAILED" and expected in run.data.tags["imgexp.error"]


@pytest.mark.slow
def test_cli_rerun_refuses_an_untrusted_target(logged_run, isolated_home: Path) -> None:
    run_id = logged_run(logged(**{"model._target_": "os.system"}))
    result = run_cli("rerun", run_id, home=isolated_home, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "model._target_=os.system" in result.stderr
    assert targets.ALLOWED_ENV in result.stderr.strip().splitlines()[-1]


def test_eval_refuses_untrusted_inherited_overrides() -> None:
    """`imgexp eval` inherits the training run's data overrides from its artifact: untrusted."""
    from imgexp.errors import ConfigError, UntrustedTargetError
    from imgexp.evaluation.logged_model import check_inherited

    check_inherited(["dataset=digits", "dataset.data_dir=/data/x", "trainer.batch_size=4"], "r")
    for planted in ("dataset._target_=os.system", "+dataset.hook={_target_: subprocess.run}"):
        with pytest.raises(UntrustedTargetError, match=planted.split("=")[-1].strip("{} ")[-10:]):
            check_inherited([planted], "r")
    with pytest.raises(ConfigError, match="interpolation"):
        check_inherited(["dataset.data_dir=${oc.env:HOME}"], "r")


def test_a_user_error_a_library_re_raised_keeps_its_short_message(capsys) -> None:
    """Hydra's instantiate wraps a builder's error (missing ImageNet weights offline) in its own
    InstantiationException: the command still ends with the user's message and status 2."""
    from hydra.errors import InstantiationException

    from imgexp.cli.failure import EXIT_USER_ERROR, guard
    from imgexp.errors import WeightsNotFoundError

    def build() -> None:
        try:
            raise WeightsNotFoundError("no ImageNet weights for MobileNetV2 in ~/.keras/models")
        except WeightsNotFoundError as error:
            raise InstantiationException("Error in call to target 'transfer'") from error

    assert guard("imgexp", build) == EXIT_USER_ERROR
    assert capsys.readouterr().err.strip() == (
        "imgexp: error: no ImageNet weights for MobileNetV2 in ~/.keras/models"
    )
    with pytest.raises(InstantiationException):  # a cause that is no user error: traceback
        guard("imgexp", lambda: (_ for _ in ()).throw(InstantiationException("bug")))
