"""What one training job is and what it records about itself: `JobInfo` (what the launcher
knows), `TrainResult` (what the job returns), its run name, its tags and its config artifacts.

The runner (one job) and `imgexp.groups.in_job` (a job of several members) both use these, so
a group run and a single run are named, tagged and logged alike."""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from imgexp.tracking import names, params
from imgexp.tracking.run import RunLogger


@dataclass
class JobInfo:
    """What the launcher knows about this job (empty when called from Python)."""

    overrides: list[str] = field(default_factory=list)
    preset: str | None = None
    output_dir: str | None = None
    sweep_name: str | None = None
    # `imgexp rerun`: the original run, and the dataset digest it saw.
    rerun_of: str | None = None
    expected_digest: str | None = None
    # A k-fold/repeat member: its group's run (imgexp/groups/in_job.py), the active run here.
    parent_run_id: str | None = None


@dataclass
class TrainResult:
    """What a training run returns to the CLI, a notebook or a sweeper."""

    run_id: str | None
    experiment_id: str | None
    metrics: dict[str, float]
    history: dict[str, list[float]]
    model: Any = field(repr=False)  # a keras.Model (not imported: this module loads no TF)
    # A group (dataset.cv.folds, trainer.repeats): each member's result, without its model;
    # `metrics` then holds the means (plus <metric>_mean/_std and n), `model` the last member's.
    members: list[TrainResult] = field(default_factory=list, repr=False)

    def objective(self, metric: str) -> float:
        """The metric a sweep optimises (NaN when the run did not produce it)."""
        return self.metrics.get(metric, math.nan)


def chief_tracking(cfg: DictConfig) -> DictConfig:
    """Only the chief worker of a multi-worker job logs: one job, one MLflow run."""
    from imgexp.trainer import distribute

    return cfg.tracking if distribute.is_chief() else OmegaConf.create({"enabled": False})


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers, without Hydra's own node (not resolved: its
    sweep paths need a job number)."""
    return {
        key: OmegaConf.to_container(node, resolve=True, enum_to_str=True)
        if OmegaConf.is_config(node)
        else node
        for key, node in cfg.items()
        if key != "hydra"
    }


def log_config(tracker: RunLogger, cfg: DictConfig, job: JobInfo) -> None:
    """The resolved config as params and as config.yaml, and the overrides, before training."""
    container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    container.pop("hydra", None)
    params.log_config(tracker, container, {"overrides": job.overrides, "preset": job.preset})


def log_job_files(tracker: RunLogger, job: JobInfo) -> None:
    """Hydra's own config of the job and its log file, at the end of the run."""
    if job.output_dir:
        tracker.log_artifacts(Path(job.output_dir) / ".hydra", "hydra")
        for log_file in Path(job.output_dir).glob("*.log"):
            tracker.log_text(log_file.read_text(), f"logs/{log_file.name}")


# Overrides that say where a run goes or reads from, not what it trains: left out of names
# (the full list stays in the imgexp.overrides tag).
PLACE_KEYS = ("tracking.", "hydra.", "paths.", "experiment=")
PLACE_SUFFIXES = ("_dir", "_path", "_root", ".uri", ".root", ".mirror")


def naming_overrides(overrides: list[str]) -> list[str]:
    """The overrides that tell runs apart: without tracking.*, hydra.*, paths.* and any
    override whose key names a place or whose value is a path or URI."""
    kept = []
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        place = override.lstrip("+~").startswith(PLACE_KEYS) or key.endswith(PLACE_SUFFIXES)
        if not (place or value.startswith(("/", "~", "./", "../")) or "://" in value):
            kept.append(override)
    return kept


def default_run_name(cfg: DictConfig, job: JobInfo) -> str:
    """``<preset or dataset-model>[ <overrides>]``, with the sweep name in front in a sweep."""
    base = job.preset or f"{cfg.dataset.name}-{cfg.model.name}"
    rest = naming_overrides(job.overrides)
    name = f"{base} {','.join(rest)}" if rest else base
    return f"{job.sweep_name}/{name}" if job.sweep_name else name


def run_tags(cfg: DictConfig, job: JobInfo) -> dict[str, Any]:
    """Tags that make a run findable and its environment known."""
    import keras
    import tensorflow as tf

    tags: dict[str, Any] = {
        names.OVERRIDES_TAG: " ".join(job.overrides),
        names.PRESET_TAG: job.preset or "",
        names.TASK_TAG: cfg.get("task_name", "train"),
        "versions.tensorflow": tf.__version__,
        "versions.keras": keras.__version__,
        "devices": ",".join(d.name for d in tf.config.list_logical_devices()) or "cpu",
    }
    if job.sweep_name:
        tags[names.SWEEP_TAG] = job.sweep_name
    if job.rerun_of:
        tags[names.RERUN_OF_TAG] = job.rerun_of
    if job.parent_run_id:
        tags[names.ROLE_TAG] = "member"
    tags[names.NOTE_TAG] = run_description(cfg, job)
    commit = git_commit()
    if commit:
        tags[names.GIT_COMMIT_TAG] = commit
    return tags | dict(cfg.tracking.get("tags") or {})


def preset_header(preset: str) -> list[str]:
    """A packaged preset's opening comment: its article, setup and expected figure."""
    from importlib.resources import files

    path = files("imgexp.conf") / "experiment" / f"{preset}.yaml"
    if not path.is_file():
        return []  # a preset of the user's own config_dir
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith("# @package"):
            lines.append(line.removeprefix("#").removeprefix(" "))
    return lines


def run_description(cfg: DictConfig, job: JobInfo) -> str:
    """The run's description in MLflow's UI (``mlflow.note.content``): what the preset
    reproduces and the command that ran."""
    about = preset_header(job.preset) if job.preset else []
    about = about or [f"Dataset `{cfg.dataset.name}`, model `{cfg.model.name}`."]
    command = ["imgexp", *(["rerun", job.rerun_of] if job.rerun_of else [])]
    # One override a line: a long command on one line widened the UI's page past the screen.
    lines = [" ".join(command), *(f"  {override}" for override in job.overrides)]
    block = [f"    {line} \\" for line in lines[:-1]] + [f"    {lines[-1]}"]
    return "\n".join([*about, "", "Command:", "", *block])


def git_commit() -> str | None:
    """The working directory's git commit, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
