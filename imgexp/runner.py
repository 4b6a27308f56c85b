"""``run(cfg)``: data -> model -> compile -> train -> evaluate -> log. A plain function (no Hydra
decorator), shared by the CLI, the Python API and the tests."""

from __future__ import annotations

import logging
import math
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from hydra.utils import get_method  # noqa: E402

from imgexp import crossval  # noqa: E402
from imgexp.augmentation.layers import augment_training, model_augmentation  # noqa: E402
from imgexp.dataset.build import build_data  # noqa: E402
from imgexp.dataset.preprocessing import preprocessing_layers  # noqa: E402
from imgexp.evaluation.curves import training_curves  # noqa: E402
from imgexp.evaluation.report import evaluate_and_log  # noqa: E402
from imgexp.model.build import build_model, summary_text  # noqa: E402
from imgexp.schedule.build import build_optimizer  # noqa: E402
from imgexp.tracking import model_logging  # noqa: E402
from imgexp.tracking.params import flatten  # noqa: E402
from imgexp.tracking.run import RunLogger, tracked_run  # noqa: E402
from imgexp.tracking.secrets import Redactor  # noqa: E402
from imgexp.trainer import distribute, resume  # noqa: E402
from imgexp.trainer.callbacks import MlflowEpochLogger, StopOnSignal  # noqa: E402
from imgexp.trainer.precision import set_precision  # noqa: E402

log = logging.getLogger(__name__)


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
    # A k-fold/repeat member: its group's run (imgexp/crossval.py), the active run here.
    parent_run_id: str | None = None


@dataclass
class TrainResult:
    """What a training run returns to the CLI, a notebook or a sweeper."""

    run_id: str | None
    experiment_id: str | None
    metrics: dict[str, float]
    history: dict[str, list[float]]
    model: keras.Model = field(repr=False)
    # A group (dataset.cv.folds, trainer.repeats): each member's result, without its model;
    # `metrics` then holds the means (plus <metric>_mean/_std and n), `model` the last member's.
    members: list[TrainResult] = field(default_factory=list, repr=False)

    def objective(self, metric: str) -> float:
        """The metric a sweep optimises (NaN when the run did not produce it)."""
        return self.metrics.get(metric, math.nan)


def run(cfg: DictConfig, job: JobInfo | None = None) -> TrainResult:
    """Train and evaluate one configuration, logging everything to MLflow."""
    job = job or JobInfo()
    # First: a multi-worker strategy must exist before any other TensorFlow work.
    strategy = distribute.get_strategy(cfg.trainer.get("strategy", "default"))
    if crossval.members(cfg):  # several folds/seeds: one group run with nested member runs
        return crossval.run_group(cfg, job)
    keras.backend.clear_session()  # no state leaks between jobs of one process
    seed = int(cfg.trainer.seed)
    keras.utils.set_random_seed(seed)
    if cfg.trainer.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision = set_precision(cfg.trainer.mixed_precision)  # before any layer is built
    run_name = cfg.tracking.get("run_name") or default_run_name(cfg, job)
    container = plain_config(cfg)
    backup = resume.start(cfg, container)  # continues a killed run with the same config
    with tracked_run(
        chief_tracking(cfg), run_name, run_tags(cfg, job) | distribute.tags(strategy),
        run_id=backup.run_id if backup else None, redactor=Redactor(container),
        parent_run_id=job.parent_run_id,
    ) as tracker, strategy.scope():  # fmt: skip
        if backup:
            backup.bind(tracker)
        log_config(tracker, cfg, job)
        data = build_data(cfg.dataset, int(cfg.trainer.batch_size), seed)
        # Training batches only: pipeline-placed layers, then MixUp/CutMix.
        data = augment_training(cfg.augmentation, data, bool(cfg.trainer.deterministic))
        data = distribute.distribute_data(data, cfg.trainer.get("strategy", "default"))
        tracker.set_tags(data.tags())
        if job.expected_digest and job.expected_digest != data.digest:
            log.warning("dataset digest %s differs from the original run's %s (rerun of %s)",
                        data.digest, job.expected_digest, job.rerun_of)  # fmt: skip
            tracker.set_tags({"imgexp.rerun.digest_changed": "true"})
        tracker.log_dict(data.lineage(), "dataset.json")
        input_layers = preprocessing_layers(cfg.dataset, data.adapt_data)
        model = build_model(
            cfg.model, data.input_shape, data.num_classes,
            input_layers + model_augmentation(cfg.augmentation),
        )  # fmt: skip
        tracker.log_text(summary_text(model), "model_summary.txt")
        tracker.log_params({"model.total_params": str(model.count_params())})
        tracker.set_tags({"trainer.precision": precision})
        optimizer, schedule_callbacks = build_optimizer(cfg, data)
        history = get_method(cfg.trainer._target_)(
            model=model,
            optimizer=optimizer,
            data=data,
            cfg=cfg.trainer,
            callbacks=schedule_callbacks
            + (backup.callbacks(data.train) if backup else [])
            + [MlflowEpochLogger(tracker), StopOnSignal()],
        )
        history = backup.full_history(history) if backup else history
        check_finite(history)
        tracker.log_dict(history, "history.json")
        tracker.log_figure(training_curves(history, run_name), "plots/training_curves.png")
        # test_* metrics, classification report, confusion matrix, sample grid (imgexp/evaluation)
        evaluation = evaluate_and_log(model, data.test, data.class_names, tracker, run_name)
        test_metrics = evaluation.metrics
        if cfg.tracking.log_model and tracker.active:
            model_logging.log_keras_model(
                model, data.sample, data.class_names, cfg.tracking.get("register_model")
            )
        log_job_files(tracker, job)
    if backup:
        backup.finish()
    final = {name: values[-1] for name, values in history.items() if values}
    return TrainResult(
        run_id=tracker.run_id,
        experiment_id=tracker.experiment_id,
        metrics=final | test_metrics,
        history=history,
        model=model,
    )


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf: the run ends FAILED and a sweeper records a failed trial
    (a NaN objective would otherwise stop an Optuna sweep)."""


def chief_tracking(cfg: DictConfig) -> DictConfig:
    """Only the chief worker of a multi-worker job logs: one job, one MLflow run."""
    return cfg.tracking if distribute.is_chief() else OmegaConf.create({"enabled": False})


def check_finite(history: dict[str, list[float]]) -> None:
    """Raise `TrainingDiverged` when the last training loss is not finite."""
    losses = history.get("loss") or []
    if losses and not math.isfinite(losses[-1]):
        raise TrainingDiverged(
            f"training diverged: loss is {losses[-1]} after epoch {len(losses)} "
            "(lower optimizer.learning_rate?)"
        )


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers, without Hydra's own node (not resolved: its
    sweep paths need a job number)."""
    return {
        key: OmegaConf.to_container(node, resolve=True, enum_to_str=True)
        if OmegaConf.is_config(node) else node
        for key, node in cfg.items() if key != "hydra"
    }  # fmt: skip


def log_config(tracker: RunLogger, cfg: DictConfig, job: JobInfo) -> None:
    """The resolved config as params and as config.yaml, and the overrides, before training."""
    container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    container.pop("hydra", None)
    tracker.log_params(flatten(container))
    tracker.log_text(OmegaConf.to_yaml(container), "config/config.yaml")
    tracker.log_dict({"overrides": job.overrides, "preset": job.preset}, "config/overrides.yaml")


def log_job_files(tracker: RunLogger, job: JobInfo) -> None:
    """Hydra's own config of the job and its log file, at the end of the run."""
    if job.output_dir:
        tracker.log_artifacts(Path(job.output_dir) / ".hydra", "hydra")
        for log_file in Path(job.output_dir).glob("*.log"):
            tracker.log_text(log_file.read_text(), f"logs/{log_file.name}")


def default_run_name(cfg: DictConfig, job: JobInfo) -> str:
    """``<preset or dataset-model>[ <overrides>]``, with the sweep name in front in a sweep."""
    base = job.preset or f"{cfg.dataset.name}-{cfg.model.name}"
    rest = [o for o in job.overrides if not o.startswith("experiment=")]  # already in base
    name = f"{base} {','.join(rest)}" if rest else base
    return f"{job.sweep_name}/{name}" if job.sweep_name else name


def run_tags(cfg: DictConfig, job: JobInfo) -> dict[str, Any]:
    """Tags that make a run findable and its environment known."""
    tags: dict[str, Any] = {
        "imgexp.overrides": " ".join(job.overrides),
        "imgexp.preset": job.preset or "",
        "imgexp.task": cfg.get("task_name", "train"),
        "versions.tensorflow": tf.__version__,
        "versions.keras": keras.__version__,
        "devices": ",".join(d.name for d in tf.config.list_logical_devices()) or "cpu",
    }
    if job.sweep_name:
        tags["imgexp.sweep"] = job.sweep_name
    if job.rerun_of:
        tags["imgexp.rerun_of"] = job.rerun_of
    if job.parent_run_id:
        tags["imgexp.role"] = "member"
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags | dict(cfg.tracking.get("tags") or {})


def git_commit() -> str | None:
    """The working directory's git commit, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
