"""A sweep read back from MLflow alone (any launcher, any machine): each child run as a
`JobOutcome`, the best one by the objective, the failed ones; `record` writes that onto the
parent at the end of a multirun."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from imgexp.tracking import names


@dataclass
class JobOutcome:
    """One child run of a sweep as MLflow recorded it."""

    run_id: str
    name: str
    status: str
    overrides: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def value(self, metric: str) -> float | None:
        """The objective, or None when the job did not produce a finite one."""
        value = self.metrics.get(metric)
        return value if value is not None and math.isfinite(value) else None


@dataclass
class SweepSummary:
    """Every job of a sweep, the best one by the objective and the failed ones."""

    parent_run_id: str
    metric: str
    direction: str
    jobs: list[JobOutcome]

    @property
    def failed(self) -> list[JobOutcome]:
        """Jobs that did not finish (FAILED, KILLED, or still RUNNING after a crash)."""
        return [job for job in self.jobs if job.status != "FINISHED"]

    @property
    def best(self) -> JobOutcome | None:
        """The finished job with the best objective value."""
        scored = [
            j for j in self.jobs if j.status == "FINISHED" and j.value(self.metric) is not None
        ]
        if not scored:
            return None
        pick = max if self.direction == "maximize" else min
        return pick(scored, key=lambda job: job.value(self.metric))

    def table(self) -> str:
        """A plain-text table of the jobs, best marked, failed ones with their error."""
        best = self.best
        lines = [f"{'':2}{'status':9} {self.metric:>14}  run / overrides"]
        for job in self.jobs:
            value = job.value(self.metric)
            shown = f"{value:14.4f}" if value is not None else f"{'-':>14}"
            mark = "* " if best is not None and job.run_id == best.run_id else "  "
            lines.append(f"{mark}{job.status:9} {shown}  {job.run_id} {job.overrides}")
            if job.error:
                lines.append(f"{'':27}error: {job.error[:200]}")
        lines.append(f"{len(self.jobs)} jobs, {len(self.failed)} failed")
        return "\n".join(lines)


def children(client: Any, parent_run_id: str) -> list[Any]:
    """All child runs of a parent (every page), oldest first, without the aggregate runs made
    at a sweep's end (they summarise jobs; they are not jobs)."""
    parent = client.get_run(parent_run_id)
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.`{names.PARENT_TAG}` = '{parent_run_id}'",
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(run for run in page if run.data.tags.get(names.GROUP_SOURCE_TAG) != "sweep")
        token = page.token
        if not token:
            return runs


def summarize(client: Any, parent_run_id: str, metric: str, direction: str) -> SweepSummary:
    """Read a sweep back from MLflow."""
    jobs = [
        JobOutcome(
            run_id=run.info.run_id,
            name=run.info.run_name,
            status=run.info.status,
            overrides=run.data.tags.get(names.OVERRIDES_TAG, ""),
            metrics=dict(run.data.metrics),
            error=run.data.tags.get(names.ERROR_TAG),
        )
        for run in children(client, parent_run_id)
    ]
    return SweepSummary(parent_run_id, metric, direction, jobs)


def record(client: Any, summary: SweepSummary) -> None:
    """Write the summary onto the parent: counts, best job and value, the job table."""
    parent = summary.parent_run_id
    client.set_tag(parent, names.N_JOBS_TAG, str(len(summary.jobs)))
    client.set_tag(parent, names.N_FAILED_TAG, str(len(summary.failed)))
    client.set_tag(parent, names.FAILED_RUNS_TAG, " ".join(j.run_id for j in summary.failed))
    best = summary.best
    if best is not None:
        client.log_metric(parent, f"best_{summary.metric}", best.value(summary.metric))
        client.set_tag(parent, names.BEST_RUN_ID_TAG, best.run_id)
        client.set_tag(parent, names.BEST_RUN_NAME_TAG, best.name)
        client.set_tag(parent, names.BEST_OVERRIDES_TAG, best.overrides)
    client.log_dict(parent, [asdict(job) for job in summary.jobs], names.SWEEP_JOBS_ARTIFACT)
    client.log_text(parent, summary.table(), names.SWEEP_SUMMARY_ARTIFACT)


class GroupNotFound(RuntimeError):
    """The sweep cannot be found (unknown name or id, a run without children, no store)."""


def find_parent(client: Any, target: str, uri: str) -> str:
    """The parent run id for ``target``: an experiment's latest sweep, or a run id."""
    from mlflow.exceptions import MlflowException

    try:
        experiment = client.get_experiment_by_name(target)
    except MlflowException as error:
        raise GroupNotFound(f"cannot read the MLflow store {uri}: {error.message}") from error
    except Exception as error:  # noqa: BLE001 - unreachable server, bad URI, ...
        raise GroupNotFound(f"cannot reach the MLflow store {uri}: {error}") from error
    if experiment is not None:
        latest = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`{names.ROLE_TAG}` = 'sweep'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if not latest:
            raise GroupNotFound(f"experiment {target!r} in {uri} has no sweep (imgexp -m ...)")
        return latest[0].info.run_id
    try:
        run = client.get_run(target)
    except MlflowException as error:
        known = sorted(e.name for e in client.search_experiments())
        raise GroupNotFound(
            f"no experiment or run named {target!r} in {uri}; experiments: {', '.join(known)}"
        ) from error
    return run.info.run_id
