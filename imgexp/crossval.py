"""One job, several members: k-fold cross-validation (``dataset.cv.folds: k``) and repeated
seeds (``trainer.repeats: n``, seeds ``seed..seed+n-1``), reported as one result.

The job's own run becomes the group run: each member is a nested child run (a normal run with
``dataset.cv.fold`` and ``trainer.seed`` set, so ``imgexp rerun <member>`` reruns one member),
and the group run gets ``<metric>_mean``, ``<metric>_std`` (np.std, ddof=0) and ``n`` for every
final metric, the mean under the metric's own name, and a ±1 std band plot. The job returns the
mean, so a sweeper (Optuna) optimises the mean over folds/seeds: a trial is one job."""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass

import matplotlib.pyplot as plt
from omegaconf import DictConfig, open_dict

from imgexp.tracking import aggregate
from imgexp.tracking.sweep import GROUP_SOURCE_TAG

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """One training of a group: its fold (None without k-fold) and seed."""

    fold: int | None
    seed: int

    @property
    def overrides(self) -> list[str]:
        """What sets this member apart, as overrides (its run's ``imgexp.overrides``)."""
        fold = [] if self.fold is None else [f"dataset.cv.fold={self.fold}"]
        return [*fold, f"trainer.seed={self.seed}"]

    @property
    def label(self) -> str:
        return ("" if self.fold is None else f"fold {self.fold} ") + f"seed {self.seed}"


def members(cfg: DictConfig) -> list[Member]:
    """The members a config asks for; empty for a single run. Bad values fail here, before
    any data is read, naming the key and what is valid."""
    cv = cfg.dataset.get("cv")
    folds = int(cv.folds) if cv is not None else 0
    fold = cv.fold if cv is not None else None
    repeats = int(cfg.trainer.get("repeats", 1))
    if folds < 0:
        raise ValueError(f"dataset.cv.folds={folds}: use 0 (off) or a number of folds >= 2")
    if repeats < 1:
        raise ValueError(f"trainer.repeats={repeats}: use 1 (one run) or more")
    if fold is not None and (folds < 2 or not 0 <= int(fold) < folds):
        raise ValueError(
            f"dataset.cv.fold={fold} needs dataset.cv.folds=k >= 2 and a fold in 0..k-1 "
            f"(dataset.cv.folds={folds})"
        )
    fold_list = list(range(folds)) if folds >= 2 and fold is None else [fold]
    seed = int(cfg.trainer.seed)
    plan = [Member(f, s) for f in fold_list for s in range(seed, seed + repeats)]
    return plan if len(plan) > 1 else []


def group_kind(plan: list[Member]) -> str:
    """What a group varies: ``folds``, ``seeds`` or ``folds x seeds``."""
    kinds = [k for k, n in (("folds", len({m.fold for m in plan})),
                            ("seeds", len({m.seed for m in plan}))) if n > 1]  # fmt: skip
    return " x ".join(kinds)


def member_config(cfg: DictConfig, member: Member, run_name: str) -> DictConfig:
    """The group's config with this member's fold and seed, run alone (repeats=1)."""
    member_cfg = copy.deepcopy(cfg)
    with open_dict(member_cfg):
        if member.fold is not None:
            member_cfg.dataset.cv.fold = member.fold
        member_cfg.trainer.seed = member.seed
        member_cfg.trainer.repeats = 1
        member_cfg.tracking.run_name = f"{run_name}/{member.label}"
    return member_cfg


def run_group(cfg: DictConfig, job):  # -> runner.TrainResult (runner imports this module)
    """Train every member as a nested run of the job's run, then log mean/std/n there."""
    from imgexp import runner
    from imgexp.tracking.run import tracked_run
    from imgexp.tracking.secrets import Redactor

    plan = members(cfg)
    kind = group_kind(plan)
    run_name = cfg.tracking.get("run_name") or runner.default_run_name(cfg, job)
    tags = runner.run_tags(cfg, job) | {
        aggregate.ROLE_TAG: "group",
        GROUP_SOURCE_TAG: "job",
        "imgexp.group.over": kind,
        "imgexp.group.size": len(plan),
    }
    results = []
    with tracked_run(
        runner.chief_tracking(cfg), run_name, tags, redactor=Redactor(runner.plain_config(cfg)),
        parent_run_id=job.parent_run_id,
    ) as tracker:  # fmt: skip
        runner.log_config(tracker, cfg, job)
        for number, member in enumerate(plan, start=1):
            log.info("%s: member %d/%d (%s)", run_name, number, len(plan), member.label)
            member_job = dataclasses.replace(
                job, overrides=[*job.overrides, *member.overrides], output_dir=None,
                parent_run_id=tracker.run_id,
            )  # fmt: skip
            results.append(runner.run(member_config(cfg, member, run_name), member_job))
        stats = aggregate.aggregate([result.metrics for result in results])
        tracker.log_metrics(stats.metrics(plain=True))
        tracker.log_dict(
            [{"run_id": r.run_id, "fold": m.fold, "seed": m.seed, "metrics": r.metrics}
             for m, r in zip(plan, results, strict=True)],
            "group/members.json",
        )  # fmt: skip
        figure = aggregate.band_figure([r.history for r in results], f"{run_name} ({kind})")
        tracker.log_figure(figure, aggregate.GROUP_CURVES)
        plt.close(figure)
        runner.log_job_files(tracker, job)
    log.info("%s: %s over %d members: %s", run_name, kind, len(plan),
             ", ".join(f"{k} {stats.cell(k)}" for k in stats.mean))  # fmt: skip
    return runner.TrainResult(
        run_id=tracker.run_id,
        experiment_id=tracker.experiment_id,
        metrics=stats.metrics(plain=True),
        history=aggregate.mean_history([r.history for r in results])[0],
        model=results[-1].model,
        members=[dataclasses.replace(r, model=None) for r in results],
    )
