"""Mean ± std over runs that differ only in their seed or fold: the numbers a paper reports.

Two producers use it: a job that trains several members itself (``dataset.cv.folds``,
``trainer.repeats``; `imgexp.groups.in_job`) and the end of a multirun, which groups its
finished children by their logged params minus `VARYING_PARAMS` (no parsing of override
strings, so any launcher or sweeper works). The std is the population std (``np.std``,
``ddof=0``)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imgexp.groups import plots
from imgexp.groups.history import is_base_metric, run_history
from imgexp.tracking import names

# Params that tell repeats apart; runs equal in every other param form one group (a run's
# name is no setting: k-fold members are named after their fold).
VARYING_PARAMS = ("trainer.seed", "dataset.cv.fold", "tracking.run_name")


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
    keys = sorted(set.intersection(*({k for k in f if is_base_metric(k)} for f in finals)))
    values = np.array([[f[k] for k in keys] for f in finals], dtype=float).reshape(len(finals), -1)
    mean, std = values.mean(axis=0), values.std(axis=0)
    return Aggregate(
        n=len(finals),
        mean={k: float(v) for k, v in zip(keys, mean, strict=True)},
        std={k: float(v) for k, v in zip(keys, std, strict=True)},
    )


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
        metrics = [
            Metric(k, v, now, 0) for k, v in group.stats.metrics().items() if math.isfinite(v)
        ]
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        histories = [run_history(client, run) for run in group.runs]
        figure = plots.band_figure(histories, f"{sweep_name} {group.label}".strip())
        client.log_figure(run_id, figure, names.GROUP_CURVES_PNG)
        plots.plt.close(figure)

    parent = client.get_run(parent_run_id)
    if len(groups) == 1:
        log_group(parent_run_id, groups[0])
    for group in groups if len(groups) > 1 else []:
        run = client.create_run(
            parent.info.experiment_id,
            run_name=f"{sweep_name}/group {group.label}",
            tags={
                names.PARENT_TAG: parent_run_id,
                names.ROLE_TAG: "group",
                names.GROUP_SOURCE_TAG: "sweep",
                names.SWEEP_TAG: sweep_name,
                names.OVERRIDES_TAG: group.label,
                names.GROUP_MEMBERS_TAG: " ".join(group.run_ids)[:5000],
            },
        )
        params = [Param(k, v) for k, v in group.params.items()]
        for start in range(0, len(params), 100):
            client.log_batch(run.info.run_id, params=params[start : start + 100])
        log_group(run.info.run_id, group)
        client.set_terminated(run.info.run_id, "FINISHED")
    client.log_dict(parent_run_id, groups_table(groups), names.SWEEP_GROUPS_ARTIFACT)


def groups_table(groups: list[SweepGroup]) -> list[dict[str, Any]]:
    """The groups as JSON rows: label, members, n, mean and std per metric."""
    return [
        {
            "group": g.label,
            "runs": g.run_ids,
            "n": g.stats.n,
            "mean": g.stats.mean,
            "std": g.stats.std,
        }
        for g in groups
    ]
