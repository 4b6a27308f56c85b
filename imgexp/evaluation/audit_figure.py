"""The data audit of a run's splits, logged before training: ``data_audit.json``, one figure
(class counts per split, image-size histogram), the overlap and duplicate counts as tags, and a
loud warning naming the pairs when the splits share images (`imgexp.dataset.audit`)."""

from __future__ import annotations

import logging

import numpy as np
from matplotlib.figure import Figure

from imgexp.dataset.audit_summary import headline, log_findings
from imgexp.dataset.bundle import DataBundle
from imgexp.evaluation.titles import fit_title
from imgexp.tracking import names
from imgexp.tracking.run import RunLogger

log = logging.getLogger(__name__)
INCHES_PER_CLASS = 0.3
MAX_WIDTH_INCHES = 40.0


def log_data_audit(tracker: RunLogger, data: DataBundle) -> None:
    """JSON, figure, tags and the warning of ``data.audit``."""
    audit = data.audit
    log_findings(audit, log)
    tracker.set_tags(
        {
            names.DATA_OVERLAP_TAG: audit["overlap_pairs"],
            names.DATA_DUPLICATES_TAG: audit["duplicate_copies"],
        }
    )
    if tracker.active:  # the figure costs a moment: only for a run that keeps it
        tracker.log_dict(audit, names.DATA_AUDIT_ARTIFACT)
        tracker.log_figure(audit_figure(audit, f"data audit: {data.name}"), names.DATA_AUDIT_PNG)


def audit_figure(audit: dict, title: str = "") -> Figure:
    """Class counts per split (bars side by side) and the image sizes (height and width)."""
    counts = audit["class_counts"]
    classes = list(next(iter(counts.values()), {}))
    width = float(np.clip(INCHES_PER_CLASS * len(classes) + 6, 11, MAX_WIDTH_INCHES))
    figure = Figure(figsize=(width, 4.5), layout="constrained")
    bars, sizes = figure.subplots(1, 2, width_ratios=[max(2, width - 5), 4])
    positions = np.arange(len(classes))
    step = 0.8 / max(1, len(counts))
    for k, (split, per_class) in enumerate(counts.items()):
        label = f"{split} ({audit['splits'][split]})"
        if split == "validation" and audit["validation_is_test"]:
            label += ": the test split"
        bars.bar(positions + k * step, [per_class[c] for c in classes], step, label=label)
    rotation = 90 if len(classes) > 10 else 0
    bars.set_xticks(positions + step * (len(counts) - 1) / 2, classes, rotation=rotation)
    bars.tick_params(axis="x", labelsize=8 if len(classes) > 20 else 10)
    bars.set_ylabel("images")
    bars.set_title(f"class counts; {headline(audit['overlap_pairs'], audit['duplicate_copies'])}")
    bars.margins(y=0.2)  # headroom for the legend above the bars
    bars.legend(loc="upper center", ncol=len(counts))
    size_histogram(sizes, audit["images"])
    if title:
        figure.suptitle(fit_title(title, figure.get_figwidth()), fontsize=10)
    return figure


def size_histogram(axis, images: dict) -> None:
    """Heights and widths of the files, weighted by count; an array dataset has one shape."""
    if images["kind"] == "arrays":
        shapes = images["shapes"]
        axis.bar(list(shapes), list(shapes.values()), color="tab:gray")
        axis.set_xlabel("array image shape (HxWxC)")
    else:
        shape_counts = [(key.split("x"), n) for key, n in images["sizes"].items()]
        heights = [int(h) for (h, _), _ in shape_counts]
        widths = [int(w) for (_, w), _ in shape_counts]
        weights = [n for _, n in shape_counts]
        bins = np.histogram_bin_edges(heights + widths, bins=min(30, max(1, len(weights))))
        axis.hist(heights, bins, weights=weights, histtype="step", linewidth=2, label="height")
        axis.hist(widths, bins, weights=weights, histtype="step", linewidth=2, label="width")
        axis.set_xlabel("pixels")
        axis.legend()
    axis.set_ylabel("images")
    axis.set_title("image sizes")
