"""The report of a sweep (or an in-job group): every child of a parent run in one table
(overrides, status, final metrics, wall time), sorted by the objective, failed children with
their error, the mean ± std of children that differ only in their seed or fold, and a PNG
comparing their validation curves. Written onto the parent at the end of every multirun
(`record`, called by the sweep callback) and printed again for any past sweep by
``imgexp report``; both read MLflow only."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from dataclasses import dataclass
from typing import Any

from imgexp.groups import aggregate, plots
from imgexp.groups.aggregate import SweepGroup
from imgexp.groups.history import is_base_metric
from imgexp.groups.summary import JobOutcome, SweepSummary, children, summarize
from imgexp.tracking import names

log = logging.getLogger(__name__)


@dataclass
class Row:
    """One child run in the report."""

    job: JobOutcome
    wall_s: float | None


@dataclass
class SweepReport:
    """The rows, best first by the objective; what `markdown` and `csv` render."""

    title: str
    summary: SweepSummary
    rows: list[Row]
    metrics: list[str]
    groups: list[SweepGroup]

    @property
    def common_overrides(self) -> list[str]:
        """Overrides every child shares (said once, above the table)."""
        tokens = [set(row.job.overrides.split()) for row in self.rows]
        return sorted(set.intersection(*tokens)) if len(tokens) > 1 else []

    def own_overrides(self, job: JobOutcome) -> str:
        """What sets a child apart: its overrides minus the common ones."""
        common = set(self.common_overrides)
        return " ".join(t for t in job.overrides.split() if t not in common) or job.name

    def cell(self, job: JobOutcome, metric: str) -> str:
        """A metric of a row; ``mean ± std`` for a child that is itself a group run."""
        value = job.metrics.get(metric)
        if value is None:
            return "-"
        std = job.metrics.get(f"{metric}_std")
        return f"{value:.4f}" + (f" ± {std:.4f}" if std is not None else "")

    def markdown(self) -> str:
        """The table as Markdown (also what the terminal shows)."""
        head = ["#", "status", *self.metrics, "wall time", "overrides", "run"]
        lines = [f"## {self.title}", ""]
        if self.common_overrides:
            lines += [f"common overrides: `{' '.join(self.common_overrides)}`", ""]
        lines += [table_row(head), table_row(["---"] * len(head))]
        for rank, row in enumerate(self.rows, start=1):
            job = row.job
            cells = [
                str(rank),
                job.status,
                *(self.cell(job, m) for m in self.metrics),
                wall_time(row.wall_s),
                f"`{self.own_overrides(job)}`",
                job.run_id,
            ]
            lines.append(table_row(cells))
        if self.groups:
            lines += ["", "### Mean ± std over seeds/folds (np.std, ddof=0)", ""]
            lines += [
                table_row(["group", "n", *self.metrics]),
                table_row(["---"] * (len(self.metrics) + 2)),
            ]
            for group in self.groups:
                cells = [group.label or "all", str(group.stats.n)]
                lines.append(table_row(cells + [group.stats.cell(m) for m in self.metrics]))
        failed = [row.job for row in self.rows if row.job.status != "FINISHED"]
        if failed:
            lines += ["", f"### Failed ({len(failed)})", ""]
            for job in failed:
                error = " ".join((job.error or "no error recorded").split())[:500]
                lines.append(f"- {job.status} `{self.own_overrides(job)}` ({job.run_id}): {error}")
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """One CSV line per child: every metric (and its std for group children), wall time
        in seconds and the error."""
        stds = [m for m in self.metrics if any(f"{m}_std" in r.job.metrics for r in self.rows)]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "rank",
                "run_id",
                "run_name",
                "status",
                "overrides",
                *self.metrics,
                *(f"{m}_std" for m in stds),
                "wall_s",
                "error",
            ]
        )
        for rank, row in enumerate(self.rows, start=1):
            job = row.job
            writer.writerow(
                [
                    rank,
                    job.run_id,
                    job.name,
                    job.status,
                    job.overrides,
                    *(job.metrics.get(m, "") for m in self.metrics),
                    *(job.metrics.get(f"{m}_std", "") for m in stds),
                    "" if row.wall_s is None else round(row.wall_s, 3),
                    job.error or "",
                ]
            )
        return out.getvalue()


def table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def wall_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s" if minutes else f"{rest:.1f} s"


def objective_of(parent: Any) -> tuple[str, str]:
    """(metric, direction) a sweep was run with (its ``imgexp.objective`` tag), else the
    default ``val_accuracy`` maximised."""
    direction, _, metric = parent.data.tags.get(names.OBJECTIVE_TAG, "").partition(" ")
    return (metric, direction) if metric else ("val_accuracy", "maximize")


def metric_columns(jobs: list[JobOutcome], objective: str) -> list[str]:
    """Every final metric the children have: the objective, then validation, test, train."""
    columns = {k for job in jobs for k in job.metrics if is_base_metric(k)}
    columns.discard("learning_rate")

    def order(name: str) -> tuple[int, str]:
        prefix = 0 if name == objective else 1 if name.startswith("val_") else 2
        return (prefix if name.startswith(("val_", "test_")) or not prefix else 3, name)

    return sorted(columns | {objective}, key=order)


def build(
    parent: Any, summary: SweepSummary, runs: list[Any], groups: list[SweepGroup]
) -> SweepReport:
    """The report of ``summary``'s jobs (``runs``: the same children as MLflow runs)."""
    by_id = {run.info.run_id: run for run in runs}
    summary = dataclasses.replace(summary, jobs=[j for j in summary.jobs if j.run_id in by_id])
    sign = -1 if summary.direction == "maximize" else 1

    def order(job: JobOutcome) -> tuple[int, float]:
        value = job.value(summary.metric)
        if job.status != "FINISHED":
            return (2, 0.0)
        return (0, sign * value) if value is not None else (1, 0.0)

    rows = [Row(job, duration(by_id[job.run_id])) for job in sorted(summary.jobs, key=order)]
    metrics = metric_columns(summary.jobs, summary.metric)
    return SweepReport(title_of(parent, summary), summary, rows, metrics, groups)


def duration(run: Any) -> float | None:
    """Wall time of a run in seconds (None while it has not ended)."""
    if not run.info.end_time or not run.info.start_time:
        return None
    return (run.info.end_time - run.info.start_time) / 1000


def title_of(parent: Any, summary: SweepSummary) -> str:
    kind = "group" if parent.data.tags.get(names.ROLE_TAG) == "group" else "sweep"
    name = parent.data.tags.get(names.SWEEP_TAG) or parent.info.run_name
    counts = f"{len(summary.jobs)} runs, {len(summary.failed)} failed"
    objective = f"{summary.direction} {summary.metric}"
    return f"{kind} {name} ({parent.info.run_id}): {counts}; objective: {objective}"


def report(
    client: Any, parent_run_id: str, metric: str | None = None, direction: str | None = None
) -> tuple[SweepReport, list[Any]]:
    """Read a past sweep (or group) back from MLflow: (its report, its child runs)."""
    parent = client.get_run(parent_run_id)
    default_metric, default_direction = objective_of(parent)
    summary = summarize(
        client, parent_run_id, metric or default_metric, direction or default_direction
    )
    runs = children(client, parent_run_id)
    groups = aggregate.sweep_groups(runs)
    return build(parent, summary, runs, groups), runs


def record(client: Any, summary: SweepSummary) -> None:
    """End of a multirun: aggregate repeats/folds, log the report (Markdown, CSV, curves PNG)
    onto the parent and print it. Never raises: the parent must still be closed."""
    parent_run_id = summary.parent_run_id
    try:
        parent = client.get_run(parent_run_id)
        runs = children(client, parent_run_id)
        groups = aggregate.sweep_groups(runs)
        if groups:
            name = parent.data.tags.get(names.SWEEP_TAG) or parent.info.run_name
            aggregate.record_sweep_groups(client, parent_run_id, groups, name)
        built = build(parent, summary, runs, groups)
        client.log_text(parent_run_id, built.markdown(), names.SWEEP_REPORT_MD)
        client.log_text(parent_run_id, built.csv(), names.SWEEP_REPORT_CSV)
        figure = plots.comparison_figure(client, built, runs)
        client.log_figure(parent_run_id, figure, names.SWEEP_CURVES_PNG)
        plots.plt.close(figure)
        print(built.markdown(), flush=True)
    except Exception:  # noqa: BLE001 - a report must never keep a sweep's parent open
        log.exception("could not write the report of sweep %s", parent_run_id)
