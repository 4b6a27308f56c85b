"""The figures of groups of runs: a ±1 std band over repeats (`band_figure`) and a sweep's
validation curves on shared axes (`comparison_figure`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # never open a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from imgexp.evaluation.curves import epoch_axis  # noqa: E402
from imgexp.evaluation.titles import fit_title  # noqa: E402
from imgexp.groups.history import curve_keys, mean_history, run_history  # noqa: E402


def band_figure(histories: Sequence[dict[str, list[float]]], title: str = "") -> Figure:
    """One panel per validation curve: each run thin, their mean bold with a ±1 std band."""
    keys = curve_keys(histories)
    means, stds = mean_history(histories)
    figure, axes = plt.subplots(
        1, max(len(keys), 1), figsize=(5 * max(len(keys), 1), 3.8), squeeze=False
    )
    for axis, key in zip(axes[0], keys, strict=False):
        for history in histories:
            if history.get(key):
                epochs = range(1, len(history[key]) + 1)
                axis.plot(epochs, history[key], color="grey", alpha=0.4, linewidth=1)
        mean, std = np.array(means[key]), np.array(stds[key])
        epochs = np.arange(1, len(mean) + 1)
        label = f"mean (n={len(histories)})"
        axis.plot(epochs, mean, color="C0", linewidth=2, marker="o", label=label)
        axis.fill_between(epochs, mean - std, mean + std, color="C0", alpha=0.25, label="±1 std")
        epoch_axis(axis, key)
        axis.legend()
    if title:
        figure.suptitle(fit_title(title, figure.get_figwidth(), 9), fontsize=9)
    figure.tight_layout()
    return figure


def comparison_figure(client: Any, report: Any, runs: list[Any]) -> Figure:
    # report: a `imgexp.groups.report.SweepReport` (not imported: that module draws with this one)
    """The validation curves of every child on shared axes, the best one bold."""
    by_id = {run.info.run_id: run for run in runs}
    histories = {row.job.run_id: run_history(client, by_id[row.job.run_id]) for row in report.rows}
    keys = curve_keys(histories.values()) or [report.summary.metric]
    best = report.summary.best
    figure, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4.2), squeeze=False)
    for axis, key in zip(axes[0], keys, strict=True):
        for row in report.rows:
            curve = histories[row.job.run_id].get(key)
            if not curve:
                continue
            is_best = best is not None and row.job.run_id == best.run_id
            axis.plot(
                range(1, len(curve) + 1),
                curve,
                marker="o",
                markersize=3,
                linewidth=2.5 if is_best else 1,
                linestyle="-" if row.job.status == "FINISHED" else ":",
                label=report.own_overrides(row.job)[:60] + (" (best)" if is_best else ""),
            )
        epoch_axis(axis, key)
    if 0 < len(report.rows) <= 15:
        axes[0][0].legend(fontsize=7)
    figure.suptitle(fit_title(report.title, figure.get_figwidth(), 9), fontsize=9)
    figure.tight_layout()
    return figure
