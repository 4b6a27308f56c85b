"""After-training evaluation: metrics and artifacts in MLflow, equal to scikit-learn on the same
predictions; readable plots; ``imgexp-eval`` re-evaluates a logged model into a linked run."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from helpers import run_cli, store_uri
from mlflow.tracking import MlflowClient
from PIL import Image
from sklearn import metrics as skm

from imgexp.api import compose_config
from imgexp.dataset.build import build_data
from imgexp.evaluation import confusion
from imgexp.evaluation.logged_model import evaluate_logged_model, labels_as_model_classes
from imgexp.evaluation.metrics import summary_metrics

ARTIFACTS = {
    "plots/training_curves.png",
    "plots/test_confusion_matrix.png",
    "plots/test_samples.png",
    "evaluation/test_classification_report.json",
    "evaluation/test_classification_report.txt",
    "evaluation/test_confusion_matrix.json",
    "evaluation/test_predictions.csv",
}
DIGIT_NAMES = [str(digit) for digit in range(10)]


def download(home: Path, run_id: str, path: str, tmp_path: Path) -> Path:
    """One artifact of a run, as a local file."""
    mlflow.set_tracking_uri(store_uri(home))
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path,
                                                    dst_path=str(tmp_path)))  # fmt: skip


def digits_test_split(*overrides: str):
    """The digits test split exactly as the training run built it (same config, same seed)."""
    cfg = compose_config("dataset=digits", *overrides)
    return build_data(cfg.dataset, int(cfg.trainer.batch_size), int(cfg.trainer.seed))


def all_files(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= all_files(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_run_logs_evaluation_metrics_and_valid_plots(trained_digits, tmp_path: Path) -> None:
    home, result = trained_digits
    client = MlflowClient(store_uri(home))
    assert all_files(client, result.run_id) >= ARTIFACTS
    logged = client.get_run(result.run_id).data.metrics
    for name in ("test_loss", "test_accuracy", "test_macro_f1", "test_balanced_accuracy"):
        assert np.isfinite(logged[name]) and logged[name] == pytest.approx(result.metrics[name])
    assert "test_top5_accuracy" not in logged  # 10 classes: top-5 says little
    assert "test_roc_auc" not in logged  # only for two classes
    for png in ("training_curves", "test_confusion_matrix", "test_samples"):
        with Image.open(download(home, result.run_id, f"plots/{png}.png", tmp_path)) as image:
            assert image.format == "PNG"
            assert min(image.size) >= 300 and max(image.size) <= 4000, (png, image.size)
            image.load()  # decodes completely: a valid, untruncated PNG
            # Not a blank canvas: something was drawn.
            assert np.asarray(image.convert("L")).std() > 5, png


def test_logged_report_and_confusion_match_sklearn(trained_digits, tmp_path: Path) -> None:
    home, result = trained_digits
    data = digits_test_split()
    probabilities = result.model.predict(data.test, verbose=0)
    labels = np.concatenate([np.asarray(y) for _, y in data.test])
    predicted = probabilities.argmax(axis=1)
    report = json.loads(
        download(home, result.run_id, "evaluation/test_classification_report.json", tmp_path)
        .read_text()
    )  # fmt: skip
    expected = skm.classification_report(
        labels, predicted, target_names=DIGIT_NAMES, output_dict=True, zero_division=0
    )
    assert report.keys() == expected.keys()
    for key, row in expected.items():
        assert report[key] == pytest.approx(row), key
    text = download(home, result.run_id, "evaluation/test_classification_report.txt", tmp_path)
    assert "precision" in text.read_text() and "macro avg" in text.read_text()
    matrix = json.loads(
        download(home, result.run_id, "evaluation/test_confusion_matrix.json", tmp_path)
        .read_text()
    )  # fmt: skip
    np.testing.assert_array_equal(matrix["counts"], skm.confusion_matrix(labels, predicted))
    assert matrix["class_names"] == DIGIT_NAMES
    np.testing.assert_allclose(np.sum(matrix["row_normalized"], axis=1), 1.0, atol=1e-5)
    logged = MlflowClient(store_uri(home)).get_run(result.run_id).data.metrics
    assert logged["test_accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))
    assert logged["test_macro_f1"] == pytest.approx(
        skm.f1_score(labels, predicted, average="macro")
    )
    assert logged["test_balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(labels, predicted)
    )
    # The loss from predictions is the loss Keras' own evaluate reports.
    keras_loss = result.model.evaluate(data.test, return_dict=True, verbose=0)["loss"]
    assert logged["test_loss"] == pytest.approx(keras_loss, rel=1e-4)


def test_top5_and_roc_auc_follow_the_class_count() -> None:
    rng = np.random.default_rng(0)
    many = rng.dirichlet(np.ones(12), size=200)
    labels = rng.integers(0, 11, size=200)  # class 11 never occurs in the labels
    scores = summary_metrics(labels, many)
    assert scores["top5_accuracy"] == pytest.approx(
        skm.top_k_accuracy_score(labels, many, k=5, labels=np.arange(12))
    )
    two = rng.dirichlet(np.ones(2), size=100)
    binary = (two[:, 1] + rng.normal(0, 0.3, 100) > 0.5).astype(int)
    scores = summary_metrics(binary, two)
    assert scores["roc_auc"] == pytest.approx(skm.roc_auc_score(binary, two[:, 1]))
    assert "top5_accuracy" not in scores
    assert "roc_auc" not in summary_metrics(np.zeros(100, int), two)  # one class: undefined


@pytest.mark.slow  # renders a 3000-pixel figure
def test_101_class_confusion_scales_and_lists_most_confused(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 101, 2000)
    predicted = np.where(rng.random(2000) < 0.7, labels, rng.integers(0, 101, 2000))
    predicted[:30] = 7  # a strong confusion: 30 examples taken for class 7
    labels[:30] = 3
    names = [f"category_{index}" for index in range(101)]
    counts = confusion.confusion_counts(labels, predicted, 101)
    pairs = confusion.most_confused(counts, names)
    assert pairs[0]["true"] == "category_3" and pairs[0]["predicted"] == "category_7"
    assert [pair["count"] for pair in pairs] == sorted((p["count"] for p in pairs), reverse=True)
    figure = confusion.confusion_figure(counts, names)
    width, height = figure.get_size_inches()
    assert width >= 30 and height >= 30  # ~0.35 inch per class keeps 101 tick labels legible
    figure.savefig(tmp_path / "cm.png")
    confusion.most_confused_figure(pairs).savefig(tmp_path / "pairs.png")
    with Image.open(tmp_path / "cm.png") as image:
        assert min(image.size) >= 3000
    with Image.open(tmp_path / "pairs.png") as image:
        assert image.size[0] >= 600


def test_eval_logs_a_linked_run_with_the_same_numbers(trained_digits, monkeypatch) -> None:
    home, result = trained_digits
    monkeypatch.setenv("IMGEXP_HOME", str(home))
    evaluated = evaluate_logged_model(f"runs:/{result.run_id}/model")
    client = MlflowClient(store_uri(home))
    run = client.get_run(evaluated.run_id)
    assert run.data.tags["imgexp.source_run_id"] == result.run_id
    assert run.data.tags["imgexp.task"] == "eval"
    assert run.info.status == "FINISHED"
    # Without a dataset override: the training run's own test split, so the same numbers.
    for name in ("test_accuracy", "test_macro_f1", "test_loss"):
        assert run.data.metrics[name] == pytest.approx(result.metrics[name], rel=1e-5)
    assert all_files(client, evaluated.run_id) >= ARTIFACTS - {"plots/training_curves.png"}


def test_eval_on_a_class_subset_maps_labels_by_name(trained_digits, monkeypatch) -> None:
    home, result = trained_digits
    monkeypatch.setenv("IMGEXP_HOME", str(home))
    evaluated = evaluate_logged_model(
        "models:/digits-tiny/1", "dataset=digits", "dataset.classes=[7,3]"
    )
    data = digits_test_split("dataset.classes=[7,3]")
    assert data.class_names == ["7", "3"]
    as_digits = np.array([7, 3])[np.concatenate([np.asarray(y) for _, y in data.test])]
    predicted = result.model.predict(data.test, verbose=0).argmax(axis=1)
    assert evaluated.metrics["test_accuracy"] == pytest.approx(np.mean(predicted == as_digits))
    assert evaluated.source_run_id == result.run_id


def test_dataset_classes_unknown_to_the_model_are_named() -> None:
    import tensorflow as tf

    split = tf.data.Dataset.from_tensor_slices((np.zeros((2, 4, 4, 1), np.uint8), [0, 1]))
    with pytest.raises(ValueError, match=r"\['cat'\].*it predicts \['dog', 'bird'\]"):
        labels_as_model_classes(split.batch(2), ["dog", "cat"], ["dog", "bird"])
    relabelled = labels_as_model_classes(split.batch(2), ["bird", "dog"], ["dog", "bird"])
    assert [int(label) for _, labels in relabelled for label in labels] == [1, 0]


@pytest.mark.slow
def test_eval_console_script(trained_digits) -> None:
    home, result = trained_digits
    out = run_cli(f"runs:/{result.run_id}/model", home=home, script="imgexp-eval").stdout
    assert f"test_accuracy: {result.metrics['test_accuracy']:.4f}" in out
    assert f"(evaluates run {result.run_id})" in out


def test_eval_of_an_unknown_run_names_it(trained_digits, monkeypatch, capsys) -> None:
    from imgexp.cli.eval_command import main

    monkeypatch.setenv("IMGEXP_HOME", str(trained_digits[0]))
    assert main(["runs:/0123456789abcdef/model"]) == 1
    assert "run id '0123456789abcdef' not found" in capsys.readouterr().err
    assert main(["runs:/0123456789abcdef/model", "dataset=nope"]) == 2  # composition first
    assert "dataset" in capsys.readouterr().err
