"""End to end through the Python API into a real sqlite MLflow store; the logged model reloads."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient

import imgexp

EXPECTED_ARTIFACTS = {
    "config/config.yaml",
    "config/overrides.yaml",
    "dataset.json",
    "model_summary.txt",
    "history.json",
    "plots/training_curves.png",
    "class_names.json",
}


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    """Every artifact file of a run, recursively."""
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory):
    """One tiny training run (digits, 2 epochs) shared by the tests of this module."""
    home = tmp_path_factory.mktemp("api-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMGEXP_HOME", str(home))
        result = imgexp.train("dataset=digits", "trainer.epochs=2", "model.hidden_units=[32]")
    return home, result


def test_run_finishes_with_metrics_per_epoch(digits_run) -> None:
    home, result = digits_run
    client = MlflowClient(store_uri(home))
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
        steps = [m.step for m in client.get_metric_history(result.run_id, metric)]
        assert steps == [1, 2], metric
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"])
    assert result.metrics["test_accuracy"] > 0.5  # digits is easy: learning happened


def test_params_tags_and_artifacts(digits_run) -> None:
    home, result = digits_run
    client = MlflowClient(store_uri(home))
    run = client.get_run(result.run_id)
    assert run.data.params["model.hidden_units"] == "[32]"
    assert run.data.params["trainer.epochs"] == "2"
    assert run.data.tags["dataset"] == "digits"
    assert len(run.data.tags["dataset.digest"]) == 16
    assert (
        run.data.tags["imgexp.overrides"]
        == "dataset=digits trainer.epochs=2 model.hidden_units=[32]"
    )
    assert run.data.tags["versions.keras"].startswith("3.")
    assert artifact_paths(client, result.run_id) >= EXPECTED_ARTIFACTS
    assert run.info.artifact_uri.startswith((home / "mlartifacts").as_uri())


def test_logged_model_reloads_and_predicts_identically(digits_run) -> None:
    home, result = digits_run
    mlflow.set_tracking_uri(store_uri(home))
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 1)).astype(np.uint8)
    expected = result.model.predict(images, verbose=0)
    native = mlflow.tensorflow.load_model(f"runs:/{result.run_id}/model")
    np.testing.assert_allclose(native.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    answer = pyfunc.predict(images)  # imgexp's pyfunc flavor: class names with probabilities
    served = np.array([[row[str(k)] for k in range(10)] for row in answer["probabilities"]])
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)
    assert pyfunc.metadata.metadata["pixels"] == {"dtype": "uint8", "shape": [-1, 8, 8, 1]}


def test_model_summary_has_the_article_parameter_counts(tiny_preset) -> None:
    result = tiny_preset.train("fashion_mnist_mlp")  # generated 28x28 gray images, 10 classes
    dense = [layer.count_params() for layer in result.model.layers if "dense" in layer.name]
    logits = result.model.get_layer("logits").count_params()
    assert dense + [logits] == [235_500, 30_100, 1_010]
    assert result.run_id is None  # tracking=none touched no store


def test_failed_run_is_marked_failed_with_reason(isolated_home: Path) -> None:
    with pytest.raises(ValueError, match="nope"):
        imgexp.train("dataset=digits", "dataset.classes=[nope]", "trainer.epochs=1")
    client = MlflowClient(store_uri(isolated_home))
    (run,) = client.search_runs([client.get_experiment_by_name("imgexp").experiment_id])
    assert run.info.status == "FAILED"
    assert "nope" in run.data.tags["imgexp.error"]
    assert "available classes" in run.data.tags["imgexp.error"]
    assert "error.txt" in artifact_paths(client, run.info.run_id)
    assert run.data.params["trainer.epochs"] == "1"  # what was logged before the error stays
