"""Scalar test metrics and the per-class report, all from scikit-learn on the same predictions."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn import metrics as skm

TOP_K = 5
TOP_K_MIN_CLASSES = 10  # top-5 accuracy is reported only with more classes than this


def summary_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """loss, accuracy, macro_f1, balanced_accuracy; top5_accuracy with more than 10 classes;
    roc_auc with two classes (when both occur). Names carry no split prefix."""
    num_classes = probabilities.shape[1]
    every_class = np.arange(num_classes)
    predicted = probabilities.argmax(axis=1)
    with warnings.catch_warnings():
        # A class absent from a small test split is expected, not worth a warning per run.
        warnings.simplefilter("ignore", UserWarning)
        values = {
            "loss": skm.log_loss(labels, probabilities, labels=every_class),
            "accuracy": skm.accuracy_score(labels, predicted),
            "macro_f1": skm.f1_score(
                labels, predicted, labels=every_class, average="macro", zero_division=0
            ),
            "balanced_accuracy": skm.balanced_accuracy_score(labels, predicted),
        }
    if num_classes > TOP_K_MIN_CLASSES:
        values[f"top{TOP_K}_accuracy"] = skm.top_k_accuracy_score(
            labels, probabilities, k=TOP_K, labels=every_class
        )
    if num_classes == 2 and len(np.unique(labels)) == 2:
        values["roc_auc"] = skm.roc_auc_score(labels, probabilities[:, 1])
    return {name: float(value) for name, value in values.items()}


def classification_report(
    labels: np.ndarray, predicted: np.ndarray, class_names: list[str]
) -> tuple[dict, str]:
    """scikit-learn's per-class precision/recall/F1/support, as a dict (JSON) and as text."""
    arguments = {
        "labels": np.arange(len(class_names)),
        "target_names": [str(name) for name in class_names],
        "zero_division": 0,
    }
    as_dict = skm.classification_report(labels, predicted, output_dict=True, **arguments)
    as_text = skm.classification_report(labels, predicted, digits=4, **arguments)
    return as_dict, as_text
