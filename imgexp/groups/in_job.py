"""One job, several members (`members.members`), reported as one result.

The job's own run becomes the group run: each member is a nested child run (a normal run with
``dataset.cv.fold`` and ``trainer.seed`` set, so ``imgexp rerun <member>`` reruns one member),
and the group run gets ``<metric>_mean``, ``<metric>_std`` (np.std, ddof=0) and ``n`` for every
final metric, the mean under the metric's own name, and a ±1 std band plot. The job returns the
mean, so a sweeper (Optuna) optimises the mean over folds/seeds: a trial is one job."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import matplotlib.pyplot as plt
from omegaconf import DictConfig

from imgexp import job as jobs
from imgexp.groups import aggregate, plots
from imgexp.groups.history import mean_history
from imgexp.groups.members import group_kind, member_config, members
from imgexp.tracking import names
from imgexp.tracking.run import RunLogger, tracked_run
from imgexp.tracking.secrets import Redactor

log = logging.getLogger(__name__)

TrainOne = Callable[[DictConfig, jobs.JobInfo], jobs.TrainResult]


def run_group(cfg: DictConfig, job: jobs.JobInfo, train_one: TrainOne) -> jobs.TrainResult:
    """Train every member with ``train_one`` as a nested run of the job's run, then log
    mean/std/n there."""
    plan = members(cfg)
    kind = group_kind(plan)
    run_name = cfg.tracking.get("run_name") or jobs.default_run_name(cfg, job)
    tags = jobs.run_tags(cfg, job) | {
        names.ROLE_TAG: "group",
        names.GROUP_SOURCE_TAG: "job",
        names.GROUP_OVER_TAG: kind,
        names.GROUP_SIZE_TAG: len(plan),
    }
    results = []
    redactor = Redactor(jobs.plain_config(cfg))
    tracking = jobs.chief_tracking(cfg)
    with tracked_run(
        tracking, run_name, tags, redactor=redactor, parent_run_id=job.parent_run_id
    ) as tracker:
        jobs.log_config(tracker, cfg, job)
        for number, member in enumerate(plan, start=1):
            log.info("%s: member %d/%d (%s)", run_name, number, len(plan), member.label)
            member_job = dataclasses.replace(
                job,
                overrides=[*job.overrides, *member.overrides],
                output_dir=None,
                parent_run_id=tracker.run_id,
            )
            results.append(train_one(member_config(cfg, member, run_name), member_job))
        stats = log_group(tracker, plan, results, f"{run_name} ({kind})")
        jobs.log_job_files(tracker, job)
    log.info(
        "%s: %s over %d members: %s",
        run_name,
        kind,
        len(plan),
        ", ".join(f"{k} {stats.cell(k)}" for k in stats.mean),
    )
    return jobs.TrainResult(
        run_id=tracker.run_id,
        experiment_id=tracker.experiment_id,
        metrics=stats.metrics(plain=True),
        history=mean_history([r.history for r in results])[0],
        model=results[-1].model,
        members=[dataclasses.replace(r, model=None) for r in results],
    )


def log_group(
    tracker: RunLogger, plan: list, results: list[jobs.TrainResult], title: str
) -> aggregate.Aggregate:
    """The members' mean/std/n, their table and the band plot, on the group run."""
    stats = aggregate.aggregate([result.metrics for result in results])
    tracker.log_metrics(stats.metrics(plain=True))
    rows = [
        {"run_id": r.run_id, "fold": m.fold, "seed": m.seed, "metrics": r.metrics}
        for m, r in zip(plan, results, strict=True)
    ]
    tracker.log_dict(rows, names.GROUP_MEMBERS_ARTIFACT)
    figure = plots.band_figure([r.history for r in results], title)
    tracker.log_figure(figure, names.GROUP_CURVES_PNG)
    plt.close(figure)
    return stats
