"""Per-epoch curves of runs: read back from MLflow (`run_history`) and averaged over runs
(`mean_history`), for the group and sweep plots."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from imgexp.groups.summary import children
from imgexp.tracking import names


def is_base_metric(name: str) -> bool:
    """A metric a run produced itself, not one derived by aggregation or a sweep summary."""
    return not (name == "n" or name.endswith(("_mean", "_std")) or name.startswith("best_"))


def curve_keys(histories: Iterable[dict[str, list[float]]]) -> list[str]:
    """The validation curves (``val_*``), or the training ones when there is no validation."""
    keys = sorted({k for h in histories for k in h if is_base_metric(k) and k != "learning_rate"})
    return [k for k in keys if k.startswith("val_")] or keys


def mean_history(
    histories: Sequence[dict[str, list[float]]],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-epoch (mean, std) of each curve over the runs that reached that epoch (an early
    stopped run counts for its epochs only)."""
    means: dict[str, list[float]] = {}
    stds: dict[str, list[float]] = {}
    for key in sorted({k for h in histories for k in h}):
        curves = [h[key] for h in histories if h.get(key)]
        if not curves:
            continue
        length = max(len(c) for c in curves)
        per_epoch = [[c[e] for c in curves if e < len(c)] for e in range(length)]
        means[key] = [float(np.mean(v)) for v in per_epoch]
        stds[key] = [float(np.std(v)) for v in per_epoch]
    return means, stds


def run_history(client: Any, run: Any) -> dict[str, list[float]]:
    """A run's per-epoch curves from MLflow; for a group run, the mean over its members."""
    if run.data.tags.get(names.ROLE_TAG) == "group":
        members = [m for m in children(client, run.info.run_id) if m.info.status == "FINISHED"]
        return mean_history([run_history(client, m) for m in members])[0] if members else {}
    history = {}
    for key in curve_keys([run.data.metrics]):
        points = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        if len(points) > 1 or (points and points[0].step > 0):
            history[key] = [p.value for p in points]
    return history
