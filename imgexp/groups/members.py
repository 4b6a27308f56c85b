"""The plan of an in-job group: k-fold cross-validation (``dataset.cv.folds: k``) and repeated
seeds (``trainer.repeats: n``, seeds ``seed..seed+n-1``), one `Member` per training."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from omegaconf import DictConfig, open_dict


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
    varied = {"folds": len({m.fold for m in plan}), "seeds": len({m.seed for m in plan})}
    return " x ".join(kind for kind, count in varied.items() if count > 1)


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
