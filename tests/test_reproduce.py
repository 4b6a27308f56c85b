"""``imgexp reproduce``: every preset declares what it reproduces and a quick budget; the verdict
rule; a pass, a fail and a missing-data preset through the real command (in-process), their
verdicts in the runs, the table and the exit status; bad input refused before any training."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers import store_uri
from hydra.errors import InstantiationException
from mlflow.tracking import MlflowClient
from PIL import Image

from imgexp import reproduce
from imgexp.cli.reproduce_command import main
from imgexp.errors import ConfigError, WeightsNotFoundError

EXPERIMENTS = Path(__file__).parents[1] / "conf" / "experiment"
PRESETS = sorted(p.stem for p in EXPERIMENTS.glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_declares_its_source_and_a_shorter_quick_budget(preset: str) -> None:
    full, quick = reproduce.plan(preset, "full", []), reproduce.plan(preset, "quick", [])
    assert full.source.startswith('"') and "(https://" in full.source, full.source
    link = full.source.rsplit("(", 1)[1].rstrip(")")
    assert link in (EXPERIMENTS / f"{preset}.yaml").read_text().split("\ndefaults:")[0]
    assert full.overrides == [f"experiment={preset}"]  # full: the preset as it is
    assert quick.overrides[1:] and quick.cfg.trainer.epochs < full.cfg.trainer.epochs
    for budget in (full, quick):
        assert budget.note, f"{preset}: reproduce.{budget.budget}.note says where it comes from"
        assert budget.expected is None or budget.tolerance is not None


def test_the_verdict_rule() -> None:
    assert reproduce.judge(0.86, 0.87, 0.02) == "pass"
    assert (
        reproduce.judge(0.89, 0.87, 0.02) == "pass"
    )  # on the edge (0.89 - 0.87 > 0.02 in floats)
    assert reproduce.judge(0.84, 0.87, 0.02) == "fail"
    assert reproduce.judge(0.90, 0.87, 0.02) == "fail"  # far above the article fails too
    assert reproduce.judge(math.nan, 0.87, 0.02) == "fail"
    assert reproduce.judge(0.5, None, None) == "no figure"


def test_missing_weights_wrapped_by_hydra_are_missing_weights_not_an_error() -> None:
    """What the transfer builder raises offline reaches the runner inside Hydra's
    InstantiationException (as measured for flowers_transfer in experiments/RESULTS.md)."""
    plan = reproduce.plan("flowers_transfer", "quick", [])
    try:
        try:
            raise WeightsNotFoundError("model.weights=imagenet for EfficientNetB0: ...")
        except WeightsNotFoundError as error:
            raise InstantiationException("Error in call to target 'transfer.build'") from error
    except InstantiationException as wrapped:
        outcome = reproduce.failed(plan, wrapped, reraise=True)  # never re-raised: not an error
    assert (outcome.verdict, outcome.message) == (
        "missing weights",
        "model.weights=imagenet for EfficientNetB0: ...",
    )


def tiny(tiny_preset, preset: str, *extra: str) -> list[str]:
    """``preset:key=value`` overrides that train ``preset`` in seconds on generated images,
    tracked in the test's store."""
    shrunk = [*tiny_preset.overrides(preset)[1:], "tracking=mlflow", "tracking.log_model=false",
              *extra]  # fmt: skip
    return [f"{preset}:{override}" for override in shrunk]


def runs_by_preset(home: Path) -> dict[str, object]:
    client = MlflowClient(store_uri(home))
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return {run.data.tags["imgexp.preset"]: run for run in runs}


def test_a_pass_and_missing_data_exit_0_and_are_recorded(
    isolated_home: Path, tiny_preset, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    results = tmp_path / "RESULTS.md"
    forced_pass = ("reproduce.quick.expected=0.0", "reproduce.quick.tolerance=1.0")
    caltech = tmp_path / "caltech"  # two categories, neither of the preset's crab and cup
    for category in ("ant", "chair"):
        (caltech / category).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(caltech / category / "image_0001.jpg")
    argv = [
        "fashion_mnist_mlp", "cifar10_functional_cnn", "--budget", "quick",
        *tiny(tiny_preset, "fashion_mnist_mlp", *forced_pass),
        "caltech101_crab_cup", f"caltech101_crab_cup:dataset.data_dir={caltech}",
        "--results", str(results),
    ]  # fmt: skip
    assert main(argv) == 0  # missing data is shown, not a miss
    out = capsys.readouterr().out
    runs = runs_by_preset(isolated_home)
    passed, missing = runs["fashion_mnist_mlp"], runs["cifar10_functional_cnn"]
    measured = passed.data.metrics["test_accuracy"]
    assert passed.data.tags["imgexp.reproduce.verdict"] == "pass"
    assert passed.data.metrics["reproduce_delta"] == pytest.approx(measured)
    params = passed.data.params
    assert (params["reproduce.budget"], params["reproduce.expected"]) == ("quick", "0.0000")
    assert params["reproduce.tolerance"] == "1.0000" and passed.data.tags["imgexp.hardware"]
    # The budget's own overrides came first, the user's won (one epoch, not the quick three).
    assert "trainer.epochs=3" in passed.data.tags["imgexp.overrides"]
    assert params["trainer.epochs"] == "1"
    # CIFAR-10 is not here: its run ended FAILED with the loader's message, the verdict on it.
    assert missing.info.status == "FAILED"
    assert missing.data.tags["imgexp.reproduce.verdict"] == "missing data"
    assert "CIFAR-10 python batches not found" in missing.data.tags["imgexp.error"]
    row = f"| `fashion_mnist_mlp` | test_accuracy | 0.0000 ± 1.0000 | {measured:.4f} |"
    assert row in out and f"| +{measured:.4f} | pass |" in out
    assert "| `cifar10_functional_cnn` | test_accuracy | - | - | - | missing data |" in out
    assert "cifar10_functional_cnn: missing data: cifar10: the CIFAR-10 python batches" in out
    assert "caltech101_crab_cup: missing data: dataset.classes: ['crab', 'cup'] not found" in out
    assert runs["caltech101_crab_cup"].data.tags["imgexp.reproduce.verdict"] == "missing data"
    assert "\n1 pass, 2 missing data\n" in out
    page = results.read_text()
    assert row in page and "pass when |measured - expected| <= tolerance" in page
    assert "- `fashion_mnist_mlp`: `imgexp experiment=fashion_mnist_mlp trainer.epochs=3" in page
    assert "- `cifar10_functional_cnn`: missing data: cifar10: the CIFAR-10 python" in page


def test_a_miss_exits_1_and_is_tagged_fail(isolated_home: Path, tiny_preset, capsys) -> None:
    forced_fail = ("reproduce.quick.expected=2.0", "reproduce.quick.tolerance=0.5")
    argv = ["--budget=quick", "mnist_subclass_cnn", *tiny(tiny_preset, "mnist_subclass_cnn",
                                                          *forced_fail)]  # fmt: skip
    assert main(argv) == 1
    run = runs_by_preset(isolated_home)["mnist_subclass_cnn"]
    assert run.info.status == "FINISHED"
    assert run.data.tags["imgexp.reproduce.verdict"] == "fail"
    measured = run.data.metrics["test_accuracy"]
    assert run.data.metrics["reproduce_delta"] == pytest.approx(measured - 2.0)
    assert "| **fail** |" in capsys.readouterr().out


@pytest.mark.fresh_store
def test_bad_input_is_refused_before_anything_trains(
    isolated_home: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit):
        main(["fashion_mnist_mpl"])
    assert "unknown preset(s) ['fashion_mnist_mpl']; available: caltech101" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main(["flowers_cnn", "fashion_mnist_mlp:trainer.epochs=1"])
    assert "'fashion_mnist_mlp' is not a preset being reproduced" in capsys.readouterr().err
    with pytest.raises(
        ConfigError, match=r"reproduce.quick.tolerance=-0.1: must be a number >= 0"
    ):
        main(["flowers_cnn", "--budget", "quick", "reproduce.quick.tolerance=-0.1"])
    with pytest.raises(ConfigError, match="expected=0.5 needs reproduce.quick.tolerance"):
        main(["cifar10_resnet", "--budget", "quick", "reproduce.quick.expected=0.5"])
    with pytest.raises(ConfigError, match="flowers_cnn: .*trainer.epoch"):  # a typo'd key
        main(["flowers_cnn", "trainer.epoch=3"])
    assert not (isolated_home / "mlflow.db").exists()  # nothing trained, no run opened
