"""`imgexp lr-find`: the range test on the config's own data, model, loss and optimizer, logged
as an MLflow run with its plot, curve and suggestion; the rules on known curves; divergence
stops the ramp and says where; bad flags fail before anything loads."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient
from PIL import Image

from imgexp.cli.lr_find_command import main, train_command
from imgexp.errors import ConfigError
from imgexp.trainer.lr_find import Curve, Ramp, ramp_losses, suggest


def curve_of(lrs: np.ndarray, losses: np.ndarray) -> Curve:
    """A measured curve whose smoothed loss is ``losses`` itself."""
    values = losses.tolist()
    return Curve(lrs.tolist(), values, values, len(lrs), "ran all steps", diverged=False)


def test_command_logs_a_run_with_plot_curve_and_suggestion(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--steps", "30", "dataset=digits", "--min-lr", "1e-4", "model.hidden_units=[8]",
            "--max-lr", "10", "schedule=cosine", "tracking.experiment=rates"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "schedule=cosine: replaced by the ramp for the test" in out
    assert "stopped: " in out and "<- suggested" in out
    command = re.search(r"train with it:\n  (.+)\n", out).group(1)
    rate = float(command.rpartition("optimizer.learning_rate=")[2])
    assert 1e-4 <= rate <= 10
    assert command == (
        "imgexp dataset=digits 'model.hidden_units=[8]' schedule=cosine "
        f"tracking.experiment=rates optimizer.learning_rate={rate:.3g}"
    )
    client = MlflowClient(store_uri(isolated_home))
    (run,) = client.search_runs([client.get_experiment_by_name("rates").experiment_id])
    assert run.data.tags["imgexp.task"] == "lr-find"
    assert run.data.tags["imgexp.lr_find.rule"].startswith("steepest: the steepest fall")
    params = run.data.params
    assert (params["lr_find.min_lr"], params["lr_find.max_lr"]) == ("0.0001", "10.0")
    assert (params["lr_find.steps"], params["lr_find.rule"]) == ("30", "steepest")
    assert params["lr_find.schedule_replaced"] == "cosine"
    assert params["schedule.name"] == "cosine"  # the config logged is the one to train
    assert f"{run.data.metrics['suggested_lr']:.3g}" == f"{rate:.3g}"
    curve = json.loads(Path(client.download_artifacts(run.info.run_id, "lr_find/curve.json",
                                                      str(tmp_path))).read_text())  # fmt: skip
    assert curve["steps_run"] == len(curve["lr"]) == run.data.metrics["lr_find.steps_run"]
    assert curve["lr"][0] == pytest.approx(1e-4)
    assert curve["lr"][curve["suggested_step"]] == run.data.metrics["suggested_lr"]
    if not curve["diverged"]:
        assert curve["lr"][-1] == pytest.approx(10)
    png = client.download_artifacts(run.info.run_id, "plots/lr_find.png", str(tmp_path))
    assert Image.open(png).size[0] > 400


def test_steepest_picks_the_fastest_fall_per_decade() -> None:
    lrs = np.geomspace(1e-5, 1, 51)  # 0.1 decade a step: 1e-2 is a point of the grid
    losses = 2.0 - 1.5 / (1 + np.exp(-4 * (np.log10(lrs) + 2)))  # falls fastest at 1e-2
    suggestion = suggest(curve_of(lrs, losses), Ramp(1e-5, 1, 51, "steepest"))
    assert suggestion.lr == pytest.approx(1e-2)
    assert suggestion.index == 30


def test_valley_picks_halfway_along_the_longest_fall() -> None:
    lrs = np.geomspace(1e-6, 1, 60)
    flat = 2.0 + 0.001 * np.arange(20)  # creeping up: no fall before index 19
    fall = np.linspace(1.9, 0.5, 21)  # indices 20..40
    rise = np.linspace(0.6, 3.0, 19)  # indices 41..59
    losses = np.concatenate([flat, fall, rise])
    suggestion = suggest(curve_of(lrs, losses), Ramp(1e-6, 1, 60, "valley"))
    assert suggestion.index == 19 + (40 - 19) // 2  # from the top of the fall to its bottom
    assert suggestion.lr == lrs[29]


def test_a_curve_that_never_falls_gets_no_suggestion_and_says_why() -> None:
    lrs = np.geomspace(1e-7, 1e-5, 20)
    for rule in ("steepest", "valley"):
        suggestion = suggest(curve_of(lrs, np.linspace(2, 3, 20)), Ramp(1e-7, 1e-5, 20, rule))
        assert suggestion.lr is None and "never fell" in suggestion.reason
        assert "raise --max-lr" in suggestion.reason


def test_smoothing_is_bias_corrected() -> None:
    curve = ramp_losses(lambda rate: 2.0, Ramp(1e-3, 1, 10))
    assert curve.smoothed == pytest.approx([2.0] * 10)  # no pull towards 0 at the start
    assert curve.stopped == "ran all 10 steps" and not curve.diverged


def test_divergence_stops_early_and_is_reported() -> None:
    ramp = Ramp(1e-4, 10, 50)
    curve = ramp_losses(lambda rate: 2.0 - 50 * rate if rate < 1e-2 else 1.0 + 1e4 * rate, ramp)
    assert curve.diverged and len(curve.lrs) < 50
    assert re.fullmatch(r"diverged after \d+ of 50 steps, at lr \S+: smoothed loss \S+ > "
                        r"4 x best \S+", curve.stopped), curve.stopped  # fmt: skip
    assert curve.smoothed[-1] > 4 * min(curve.smoothed[:-1])
    assert suggest(curve, ramp).index < len(curve.lrs) - 1  # the diverged point is not used

    nan = ramp_losses(lambda rate: math.nan if rate > 0.1 else 1.0, ramp)
    assert nan.diverged and nan.stopped.endswith("the loss is nan") and nan.lrs[-1] > 0.1
    assert nan.as_dict()["loss"][-1] is None  # JSON-safe


def test_too_early_a_divergence_leaves_no_suggestion() -> None:
    ramp = Ramp(1e-4, 10, 20)
    curve = ramp_losses(lambda rate: 1.0 if rate < 1e-3 else 100.0, ramp)
    suggestion = suggest(curve, ramp)
    assert suggestion.lr is None and suggestion.reason.startswith("only ")
    assert "lower --max-lr" in suggestion.reason


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "5"], "--steps=5: use 10 to 2000 steps"),
        (["--min-lr", "1e-2", "--max-lr", "1e-3"], "--max-lr=0.001: use a rate above"),
        (["--min-lr", "0"], "--min-lr=0.0: use a rate > 0"),
        (["trainer.strategy=multi_worker_mirrored"], "runs in one process"),
    ],
)
def test_bad_flags_fail_early_with_the_value(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        main(argv)


def test_unknown_rule_and_bad_override_are_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--rule", "minimum"])
    assert "invalid choice: 'minimum'" in capsys.readouterr().err
    assert main(["model=nope"]) == 2
    assert "imgexp lr-find: error: In 'config': Could not find 'model/nope'" in (
        capsys.readouterr().err
    )


def test_train_command_replaces_an_earlier_rate() -> None:
    overrides = ["optimizer=sgd", "optimizer.learning_rate=0.1", "+dataset.note=a b"]
    assert train_command(overrides, 0.00316) == (
        "imgexp optimizer=sgd '+dataset.note=a b' optimizer.learning_rate=0.00316"
    )
