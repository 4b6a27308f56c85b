"""The figure of `imgexp lr-find`: the smoothed loss against the learning rate on a log axis,
the raw per-step losses behind it, the suggested rate marked, rendered headless."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from imgexp.evaluation.titles import fit_title


def lr_find_figure(
    lrs: list[float],
    losses: list[float],
    smoothed: list[float],
    suggested: int | None,
    label: str,
    title: str = "",
) -> Figure:
    """The range test's curve; ``suggested`` (an index, or None) is marked with ``label``.

    The y axis spans the finite smoothed losses (a diverging step's raw loss would squash the
    rest flat); raw losses above it are not drawn, and the legend counts them."""
    figure = Figure(figsize=(6.4, 4.2))
    axis = figure.subplots()
    shown = [v for v in smoothed if math.isfinite(v)]
    low = min([*shown, *(v for v in losses if math.isfinite(v))], default=0.0)
    high = max(shown, default=low + 1.0)  # no finite point: a NaN at the first step
    margin = 0.05 * (high - low or abs(high) or 1.0)
    top = high + margin
    cut = sum(1 for v in losses if not (math.isfinite(v) and v <= top))
    axis.plot(
        lrs,
        losses,
        color="tab:blue",
        alpha=0.3,
        linewidth=1,
        label=f"loss per step{f' ({cut} above the axis, not drawn)' if cut else ''}",
    )
    axis.plot(lrs, smoothed, color="tab:blue", linewidth=2, label="smoothed loss")
    if suggested is not None:
        axis.axvline(lrs[suggested], color="tab:red", linestyle="--", linewidth=1)
        axis.plot(
            lrs[suggested],
            smoothed[suggested],
            "o",
            color="tab:red",
            markersize=8,
            label=f"suggested {lrs[suggested]:.3g} ({label})",
        )
    axis.set_xscale("log")
    axis.set_ylim(low - margin, top)
    axis.set_xlabel("learning rate (log scale)")
    axis.set_ylabel("training loss")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    if title:
        figure.suptitle(fit_title(title, figure.get_figwidth()), fontsize=10)
    figure.tight_layout()
    return figure
