"""Mean ± std over runs that differ only in their seed or fold: the numbers a paper reports.

Two producers use it: a job that trains several members itself (``dataset.cv.folds``,
``trainer.repeats``; imgexp/crossval.py) and the end of a multirun, which groups its finished
children by their logged params minus `VARYING_PARAMS` (no parsing of override strings, so any
launcher or sweeper works). The std is the population std (``np.std``, ``ddof=0``)."""

from __future__ import annotations

import math
import textwrap
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # never open a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from imgexp.tracking.sweep import GROUP_SOURCE_TAG  # noqa: E402

# Params that tell repeats apart; runs equal in every other param form one group (a run's
# name is no setting: k-fold members are named after their fold).
VARYING_PARAMS = ("trainer.seed", "dataset.cv.fold", "tracking.run_name")
ROLE_TAG = "imgexp.role"
GROUP_CURVES = "plots/group_curves.png"


def is_base_metric(name: str) -> bool:
    """A metric a run produced itself, not one derived by aggregation or a sweep summary."""
    return not (name == "n" or name.endswith(("_mean", "_std")) or name.startswith("best_"))


@dataclass
class Aggregate:
    """Per-metric mean and std over ``n`` runs."""

    n: int
    mean: dict[str, float]
    std: dict[str, float]

    def metrics(self, plain: bool = False) -> dict[str, float]:
        """``<metric>_mean``, ``<metric>_std`` and ``n``; ``plain`` also logs the mean under
        the metric's own name (a group run then compares to single runs column by column)."""
        out = {f"{k}_mean": v for k, v in self.mean.items()}
        out |= {f"{k}_std": v for k, v in self.std.items()} | {"n": float(self.n)}
        return (dict(self.mean) | out) if plain else out

    def cell(self, metric: str) -> str:
        """``mean ± std`` for a table."""
        if metric not in self.mean:
            return "-"
        return f"{self.mean[metric]:.4f} ± {self.std[metric]:.4f}"


def aggregate(finals: Sequence[dict[str, float]]) -> Aggregate:
    """Mean and std (ddof=0) of every base metric that all runs have."""
    if not finals:
        raise ValueError("nothing to aggregate: no finished runs")
    names = sorted(set.intersection(*({k for k in f if is_base_metric(k)} for f in finals)))
    values = np.array([[f[k] for k in names] for f in finals], dtype=float).reshape(
        len(finals), -1
    )
    mean, std = values.mean(axis=0), values.std(axis=0)
    return Aggregate(
        n=len(finals),
        mean={k: float(v) for k, v in zip(names, mean, strict=True)},
        std={k: float(v) for k, v in zip(names, std, strict=True)},
    )


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


def band_figure(histories: Sequence[dict[str, list[float]]], title: str = "") -> Figure:
    """One panel per validation curve: each run thin, their mean bold with a ±1 std band."""
    keys = curve_keys(histories)
    means, stds = mean_history(histories)
    figure, axes = plt.subplots(1, max(len(keys), 1), figsize=(5 * max(len(keys), 1), 3.8),
                                squeeze=False)  # fmt: skip
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
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(textwrap.fill(title, 110), fontsize=9)
    figure.tight_layout()
    return figure


# --- reading runs back from MLflow -------------------------------------------------------


def run_history(client: Any, run: Any) -> dict[str, list[float]]:
    """A run's per-epoch curves from MLflow; for a group run, the mean over its members."""
    from imgexp.tracking.sweep import children

    if run.data.tags.get(ROLE_TAG) == "group":
        members = [m for m in children(client, run.info.run_id) if m.info.status == "FINISHED"]
        return mean_history([run_history(client, m) for m in members])[0] if members else {}
    history = {}
    for key in curve_keys([run.data.metrics]):
        points = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        if len(points) > 1 or (points and points[0].step > 0):
            history[key] = [p.value for p in points]
    return history


@dataclass
class SweepGroup:
    """Finished children of a sweep that differ only in `VARYING_PARAMS`."""

    label: str  # the params that set this group apart from the others ("" when alone)
    params: dict[str, str]
    runs: list[Any] = field(repr=False)
    stats: Aggregate | None = None

    @property
    def run_ids(self) -> list[str]:
        return [run.info.run_id for run in self.runs]


def sweep_groups(runs: Iterable[Any]) -> list[SweepGroup]:
    """Group finished runs by their params minus `VARYING_PARAMS`, in the order first seen;
    empty when no group has two runs (a plain sweep has nothing to average)."""
    grouped: dict[tuple, list[Any]] = {}
    for run in runs:
        if run.info.status != "FINISHED":
            continue
        key = tuple(sorted((k, v) for k, v in run.data.params.items() if k not in VARYING_PARAMS))
        grouped.setdefault(key, []).append(run)
    if not any(len(members) > 1 for members in grouped.values()):
        return []
    differing = {k for key in grouped for k, _ in key} if len(grouped) > 1 else set()
    differing = {k for k in differing if len({dict(key).get(k) for key in grouped}) > 1}
    groups = []
    for key, members in grouped.items():
        params = dict(key)
        label = " ".join(f"{k}={params.get(k, '-')}" for k in sorted(differing))
        stats = aggregate([dict(m.data.metrics) for m in members])
        groups.append(SweepGroup(label, params, members, stats))
    return groups


def record_sweep_groups(
    client: Any, parent_run_id: str, groups: list[SweepGroup], sweep_name: str
) -> None:
    """Log the groups' mean/std/n and band plots: on the parent when there is one group; with
    several, also one nested run per group (tag ``imgexp.role=group``), since a metric name
    cannot say which group it belongs to."""
    from mlflow.entities import Metric, Param

    def log_group(run_id: str, group: SweepGroup) -> None:
        now = int(1000 * time.time())
        metrics = [Metric(k, v, now, 0) for k, v in group.stats.metrics().items()
                   if math.isfinite(v)]  # fmt: skip
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        histories = [run_history(client, run) for run in group.runs]
        figure = band_figure(histories, f"{sweep_name} {group.label}".strip())
        client.log_figure(run_id, figure, GROUP_CURVES)
        plt.close(figure)

    parent = client.get_run(parent_run_id)
    if len(groups) == 1:
        log_group(parent_run_id, groups[0])
    for group in groups if len(groups) > 1 else []:
        run = client.create_run(
            parent.info.experiment_id,
            run_name=f"{sweep_name}/group {group.label}",
            tags={
                "mlflow.parentRunId": parent_run_id,
                ROLE_TAG: "group",
                GROUP_SOURCE_TAG: "sweep",
                "imgexp.sweep": sweep_name,
                "imgexp.overrides": group.label,
                "imgexp.group.members": " ".join(group.run_ids)[:5000],
            },
        )
        params = [Param(k, v) for k, v in group.params.items()]
        for start in range(0, len(params), 100):
            client.log_batch(run.info.run_id, params=params[start : start + 100])
        log_group(run.info.run_id, group)
        client.set_terminated(run.info.run_id, "FINISHED")
    client.log_dict(parent_run_id, groups_table(groups), "sweep/groups.json")


def groups_table(groups: list[SweepGroup]) -> list[dict[str, Any]]:
    """The groups as JSON rows: label, members, n, mean and std per metric."""
    return [
        {"group": g.label, "runs": g.run_ids, "n": g.stats.n, "mean": g.stats.mean,
         "std": g.stats.std}
        for g in groups
    ]  # fmt: skip
