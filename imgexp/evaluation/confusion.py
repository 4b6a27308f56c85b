"""Confusion matrix as counts, row-normalized rates and the most confused pairs, and its PNG:
labelled cells for a handful of classes, a scaled figure (plus a most-confused chart) for 101."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

from imgexp.evaluation.titles import fit_title

MAX_ANNOTATED = 30  # above this many classes, cells carry no numbers and pairs get a chart
INCHES_PER_CLASS = 0.35  # keeps tick labels legible: 101 classes -> a ~37 inch square figure
MAX_SIDE_INCHES = 40.0


def confusion_counts(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``counts[i, j]``: examples of class i predicted as j (every class gets a row)."""
    return confusion_matrix(labels, predicted, labels=np.arange(num_classes))


def row_normalized(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its total (the recall of each true class); empty rows stay 0."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


def most_confused(counts: np.ndarray, class_names: list[str], top: int = 20) -> list[dict]:
    """The largest off-diagonal cells: which true class is most often taken for which."""
    rates = row_normalized(counts)
    off_diagonal = counts.copy()
    np.fill_diagonal(off_diagonal, 0)
    order = np.argsort(-off_diagonal, axis=None, kind="stable")[:top]  # ties: class order
    pairs = []
    for true, predicted in zip(*np.unravel_index(order, counts.shape), strict=True):
        if off_diagonal[true, predicted] == 0:
            break
        pairs.append(
            {
                "true": class_names[true],
                "predicted": class_names[predicted],
                "count": int(counts[true, predicted]),
                "rate": float(rates[true, predicted]),
            }
        )
    return pairs


def confusion_payload(counts: np.ndarray, class_names: list[str]) -> dict:
    """The JSON artifact: class order, counts, row-normalized rates, most confused pairs."""
    return {
        "class_names": list(class_names),
        "counts": counts.tolist(),
        "row_normalized": np.round(row_normalized(counts), 6).tolist(),
        "most_confused": most_confused(counts, class_names),
    }


def confusion_figure(counts: np.ndarray, class_names: list[str], title: str = "") -> Figure:
    """Counts and row-normalized panels side by side; only the normalized one, unlabelled cells
    and a figure that grows with the class count when there are many classes."""
    num_classes = len(class_names)
    few = num_classes <= MAX_ANNOTATED
    side = float(np.clip(INCHES_PER_CLASS * num_classes + 3, 6, MAX_SIDE_INCHES))
    panels = [("counts", counts, "d"), ("row-normalized (recall)", row_normalized(counts), ".2f")]
    if not few:
        panels = panels[1:]
    figure = Figure(figsize=(side * len(panels), side), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    font_size = 10 if num_classes <= 20 else 7
    for axis, (name, matrix, number_format) in zip(axes, panels, strict=True):
        display = ConfusionMatrixDisplay(matrix, display_labels=[str(c) for c in class_names])
        display.plot(
            ax=axis,
            include_values=few,
            values_format=number_format,
            cmap="Blues",
            xticks_rotation="vertical",
            colorbar=True,
            im_kw={"vmin": 0, "vmax": 1} if number_format != "d" else None,
            text_kw={"fontsize": font_size},
        )
        axis.set_title(name)
        axis.tick_params(labelsize=font_size)
    if title:
        figure.suptitle(fit_title(title, figure.get_figwidth()), fontsize=10)
    return figure


def most_confused_figure(pairs: list[dict], title: str = "") -> Figure:
    """A horizontal bar chart of the most confused ``true -> predicted`` pairs."""
    figure = Figure(figsize=(9, 1.5 + 0.35 * max(len(pairs), 1)), layout="constrained")
    axis = figure.subplots()
    names = [f"{pair['true']} -> {pair['predicted']}" for pair in pairs][::-1]
    counts = [pair["count"] for pair in pairs][::-1]
    bars = axis.barh(names, counts, color="tab:red")
    axis.bar_label(
        bars,
        labels=[f"{pair['rate']:.0%} of the class" for pair in pairs][::-1],
        padding=3,
        fontsize=8,
    )
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.margins(x=0.25)
    axis.set_xlabel("test examples")
    heading = f"most confused pairs{': ' + title if title else ''}"
    axis.set_title(fit_title(heading, figure.get_figwidth()), fontsize=10)
    if not pairs:
        axis.text(0.5, 0.5, "no confusions", ha="center", va="center", transform=axis.transAxes)
    return figure
