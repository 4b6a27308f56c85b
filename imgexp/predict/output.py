"""Prediction results as a readable table, CSV (one row per file and rank) or JSON."""

from __future__ import annotations

import csv
import io
import json

from imgexp.predict.predictor import Prediction

FORMATS = ("table", "csv", "json")


def render(predictions: list[Prediction], class_names: list[str], k: int, fmt: str) -> str:
    """The predictions in ``fmt`` (one of `FORMATS`)."""
    if fmt == "json":
        return as_json(predictions, class_names, k)
    if fmt == "csv":
        return as_csv(predictions, class_names, k)
    if fmt == "table":
        return as_table(predictions, class_names, k)
    raise ValueError(f"output format {fmt!r}; valid: {', '.join(FORMATS)}")


def as_table(predictions: list[Prediction], class_names: list[str], k: int) -> str:
    """``file  class (p)  class (p) ...`` aligned in columns."""
    rows = [["file"] + [f"top {rank}" for rank in range(1, k + 1)]]
    for prediction in predictions:
        ranked = prediction.top(class_names, k)
        rows.append([prediction.path] + [f"{name} ({prob:.3f})" for name, prob in ranked])
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def as_csv(predictions: list[Prediction], class_names: list[str], k: int) -> str:
    """Long format for scripts: ``file,rank,class,probability``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "rank", "class", "probability"])
    for prediction in predictions:
        for rank, (name, prob) in enumerate(prediction.top(class_names, k), start=1):
            writer.writerow([prediction.path, rank, name, repr(prob)])
    return buffer.getvalue().rstrip("\n")


def as_json(predictions: list[Prediction], class_names: list[str], k: int) -> str:
    """``[{"file": ..., "top": [{"class": ..., "probability": ...}, ...]}, ...]``."""
    records = [
        {
            "file": prediction.path,
            "top": [
                {"class": name, "probability": prob}
                for name, prob in prediction.top(class_names, k)
            ],
        }
        for prediction in predictions
    ]
    return json.dumps(records, indent=2)
