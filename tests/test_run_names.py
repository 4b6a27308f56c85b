"""Run names and figure titles say what a run trains, not where it writes, and fit their
figure; the full overrides stay in the ``imgexp.overrides`` tag."""

from __future__ import annotations

from matplotlib.figure import Figure

from imgexp.config import compose_config
from imgexp.evaluation.curves import training_curves
from imgexp.evaluation.titles import MAX_LINES, fit_title
from imgexp.job import JobInfo, default_run_name, naming_overrides


def test_places_are_left_out_of_run_names() -> None:
    overrides = [
        "experiment=fashion_mnist_mlp",
        "tracking.uri=sqlite:////tmp/x/mlflow.db",
        "hydra.run.dir=/tmp/out",
        "paths.root=/tmp/home",
        "dataset.data_dir=/data/fm",
        "+dataset.cache=/var/cache/imgexp",
        "trainer.epochs=2",
        "optimizer.learning_rate=0.01",
    ]
    assert naming_overrides(overrides) == ["trainer.epochs=2", "optimizer.learning_rate=0.01"]
    cfg = compose_config("experiment=fashion_mnist_mlp")
    job = JobInfo(overrides=overrides, preset="fashion_mnist_mlp", sweep_name="sweep-1")
    name = default_run_name(cfg, job)
    assert name == "sweep-1/fashion_mnist_mlp trainer.epochs=2,optimizer.learning_rate=0.01"


def test_long_titles_wrap_within_the_figure() -> None:
    title = "flowers_cnn " + ",".join(f"model.filters.{i}={2**i}" for i in range(40))
    fitted = fit_title(title, width_inches=5)
    lines = fitted.split("\n")
    assert 1 < len(lines) <= MAX_LINES
    assert all(len(line) <= 5 * 72 / (10 * 0.55) for line in lines)
    assert fitted.endswith("…")  # too long for three lines: shortened, never cut mid-air
    figure: Figure = training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}, title)
    shown = figure.get_suptitle()
    assert shown == fit_title(title, figure.get_figwidth())
    assert fit_title("short", 5) == "short"
