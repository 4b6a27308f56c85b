"""Evaluate a model on a labelled split and put the results in the run: metrics (``test_*``),
the classification report, the confusion matrix, a sample grid and the raw predictions.

The training runner and ``imgexp-eval`` both call `evaluate_and_log`, so a re-evaluation logs
exactly what the training run logged."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from imgexp.evaluation import confusion, metrics
from imgexp.evaluation.predictions import Predictions, predict_split, regularization_loss
from imgexp.evaluation.samples import sample_grid
from imgexp.tracking.run import RunLogger


@dataclass
class Evaluation:
    """Everything computed from one pass over a split."""

    split: str
    class_names: list[str]
    predictions: Predictions = field(repr=False)
    metrics: dict[str, float]  # prefixed with the split: test_loss, test_accuracy, ...
    report: dict = field(repr=False)
    report_text: str = field(repr=False)
    counts: np.ndarray = field(repr=False)


def evaluate(
    model: keras.Model, dataset: tf.data.Dataset, class_names: list[str], split: str = "test"
) -> Evaluation:
    """Predict on ``dataset`` once and derive every number and table from those predictions."""
    predictions = predict_split(model, dataset)
    scores = metrics.summary_metrics(predictions.labels, predictions.probabilities)
    # The cross-entropy plus any weight penalties: the loss model.evaluate would report.
    scores["loss"] += regularization_loss(model)
    report, report_text = metrics.classification_report(
        predictions.labels, predictions.predicted, class_names
    )
    return Evaluation(
        split=split,
        class_names=list(class_names),
        predictions=predictions,
        metrics={f"{split}_{name}": value for name, value in scores.items()},
        report=report,
        report_text=report_text,
        counts=confusion.confusion_counts(
            predictions.labels, predictions.predicted, len(class_names)
        ),
    )


def log_evaluation(tracker: RunLogger, evaluation: Evaluation, title: str = "") -> None:
    """Metrics and artifacts (``evaluation/*``, ``plots/*``); figures are drawn only when a run
    is being logged."""
    tracker.log_metrics(evaluation.metrics)
    if not tracker.active:
        return
    split, names = evaluation.split, evaluation.class_names
    tracker.log_dict(evaluation.report, f"evaluation/{split}_classification_report.json")
    tracker.log_text(evaluation.report_text, f"evaluation/{split}_classification_report.txt")
    payload = confusion.confusion_payload(evaluation.counts, names)
    tracker.log_dict(payload, f"evaluation/{split}_confusion_matrix.json")
    tracker.log_text(predictions_csv(evaluation), f"evaluation/{split}_predictions.csv")
    tracker.log_figure(
        confusion.confusion_figure(evaluation.counts, names, title),
        f"plots/{split}_confusion_matrix.png",
    )
    if len(names) > confusion.MAX_ANNOTATED:
        tracker.log_figure(
            confusion.most_confused_figure(payload["most_confused"], title),
            f"plots/{split}_most_confused.png",
        )
    predictions = evaluation.predictions
    picked = predictions.sample_indices
    tracker.log_figure(
        sample_grid(
            predictions.sample_images,
            predictions.labels[picked],
            predictions.predicted[picked],
            predictions.confidence[picked],
            names,
        ),
        f"plots/{split}_samples.png",
    )


def evaluate_and_log(
    model: keras.Model,
    dataset: tf.data.Dataset,
    class_names: list[str],
    tracker: RunLogger,
    title: str = "",
    split: str = "test",
) -> Evaluation:
    """`evaluate`, then `log_evaluation`."""
    evaluation = evaluate(model, dataset, class_names, split)
    log_evaluation(tracker, evaluation, title)
    return evaluation


def predictions_csv(evaluation: Evaluation) -> str:
    """One row per example: index, true and predicted class, probability of the prediction."""
    predictions, names = evaluation.predictions, evaluation.class_names
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "true", "predicted", "probability"])
    for index, (true, guess, probability) in enumerate(
        zip(predictions.labels, predictions.predicted, predictions.confidence, strict=True)
    ):
        writer.writerow([index, names[true], names[guess], f"{probability:.6f}"])
    return buffer.getvalue()
