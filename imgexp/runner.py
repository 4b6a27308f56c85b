"""``run(cfg)``: data -> model -> compile -> train -> evaluate -> log, for exactly one training
job. A plain function (no Hydra decorator), shared by the CLI, the Python API and the tests; a
job of several members (folds, repeats) is handed to `imgexp.groups.in_job`."""

from __future__ import annotations

import gc
import logging
import math

from omegaconf import DictConfig

from imgexp.trainer.tensorflow_import import import_tensorflow

import_tensorflow()  # before Keras: without TensorFlow's start-up noise on a CPU machine

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from hydra.utils import get_method  # noqa: E402

from imgexp import job as jobs  # noqa: E402
from imgexp.augmentation.layers import augment_training, model_augmentation  # noqa: E402
from imgexp.augmentation.preview import augmentation_preview  # noqa: E402
from imgexp.dataset.build import build_data  # noqa: E402
from imgexp.dataset.bundle import DataBundle  # noqa: E402
from imgexp.dataset.preprocessing import preprocessing_layers  # noqa: E402
from imgexp.evaluation.audit_figure import log_data_audit  # noqa: E402
from imgexp.evaluation.curves import training_curves  # noqa: E402
from imgexp.evaluation.evaluate import evaluate_and_log  # noqa: E402
from imgexp.groups import in_job  # noqa: E402
from imgexp.groups.members import members  # noqa: E402
from imgexp.model.build import build_model, summary_text  # noqa: E402
from imgexp.optimizer.build import build_optimizer  # noqa: E402
from imgexp.tracking import model_logging, names  # noqa: E402
from imgexp.tracking.datasets import log_splits  # noqa: E402
from imgexp.tracking.run import RunLogger, tracked_run  # noqa: E402
from imgexp.tracking.secrets import Redactor  # noqa: E402
from imgexp.trainer import distribute, resume  # noqa: E402
from imgexp.trainer.callbacks import MlflowEpochLogger, StopOnSignal  # noqa: E402
from imgexp.trainer.precision import set_precision  # noqa: E402

# Everything imported so far (TensorFlow, Keras, MLflow, Hydra: ~470k objects) lives as long as
# the process: leave it out of every later garbage collection. A scan of 10,000 files triggered
# a full collection walking all of it (0.3-0.4 s, measured); at import, so once per process.
gc.freeze()
log = logging.getLogger(__name__)

# Kept importable from here: the names every caller of `run` sees.
JobInfo = jobs.JobInfo
TrainResult = jobs.TrainResult


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf: the run ends FAILED and a sweeper records a failed trial
    (a NaN objective would otherwise stop an Optuna sweep)."""


def run(cfg: DictConfig, job: JobInfo | None = None) -> TrainResult:
    """Train and evaluate one configuration, logging everything to MLflow."""
    job = job or JobInfo()
    # First: a multi-worker strategy must exist before any other TensorFlow work.
    strategy = distribute.get_strategy(cfg.trainer.get("strategy", "default"))
    if members(cfg):  # several folds/seeds: one group run with nested member runs
        return in_job.run_group(cfg, job, train_one=run)
    precision = start_session(cfg)
    run_name = cfg.tracking.get("run_name") or jobs.default_run_name(cfg, job)
    container = jobs.plain_config(cfg)
    backup = resume.start(cfg, container)  # continues a killed run with the same config
    tags = jobs.run_tags(cfg, job) | distribute.tags(strategy) | {"trainer.precision": precision}
    run_id = backup.run_id if backup else None
    tracking = jobs.chief_tracking(cfg)
    redactor = Redactor(container)
    with (
        tracked_run(tracking, run_name, tags, run_id, redactor, job.parent_run_id) as tracker,
        strategy.scope(),
    ):
        if backup:
            backup.bind(tracker)
        jobs.log_config(tracker, cfg, job)
        data = prepare_data(cfg, job, tracker)
        model = prepare_model(cfg, data, tracker)
        optimizer, schedule_callbacks = build_optimizer(cfg, data)
        resume_callbacks = backup.callbacks(data.train) if backup else []
        history = get_method(cfg.trainer._target_)(
            model=model,
            optimizer=optimizer,
            data=data,
            cfg=cfg.trainer,
            callbacks=[
                *schedule_callbacks,
                *resume_callbacks,
                MlflowEpochLogger(tracker),
                StopOnSignal(),
            ],
        )
        history = backup.full_history(history) if backup else history
        test_metrics = finish(cfg, job, tracker, model, data, history, run_name)
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


def start_session(cfg: DictConfig) -> str:
    """A fresh Keras session seeded from the config (determinism, dtype policy), before any
    layer is built; the policy in effect. Shared with `imgexp lr-find`."""
    keras.backend.clear_session()  # no state leaks between jobs of one process
    keras.utils.set_random_seed(int(cfg.trainer.seed))
    if cfg.trainer.deterministic:
        tf.config.experimental.enable_op_determinism()
    return set_precision(cfg.trainer.mixed_precision)


def prepare_data(cfg: DictConfig, job: JobInfo, tracker: RunLogger) -> DataBundle:
    """The dataset's splits with training augmentation, distributed, and its lineage logged."""
    data = build_data(cfg.dataset, int(cfg.trainer.batch_size), int(cfg.trainer.seed))
    if tracker.active:  # a few training images as the augmentation makes them (none: no figure)
        preview = augmentation_preview(cfg.augmentation, data)
        if preview is not None:
            tracker.log_figure(preview, names.AUGMENTATION_PREVIEW_PNG)
    # Training batches only: pipeline-placed layers, then MixUp/CutMix.
    data = augment_training(cfg.augmentation, data, bool(cfg.trainer.deterministic))
    data = distribute.distribute_data(data, cfg.trainer.get("strategy", "default"))
    tracker.set_tags(data.tags())
    if job.expected_digest and job.expected_digest != data.digest:
        log.warning(
            "dataset digest %s differs from the original run's %s (rerun of %s)",
            data.digest,
            job.expected_digest,
            job.rerun_of,
        )
        tracker.set_tags({names.DIGEST_CHANGED_TAG: "true"})
    tracker.log_dict(data.lineage(), names.DATASET_ARTIFACT)
    log_data_audit(tracker, data)  # duplicates and split overlaps: data_audit.json, a warning
    if tracker.active:  # MLflow's Datasets view: one input per split
        retries = log_splits(data.name, data.source, data.digest, data.counts, data.class_counts)
        if retries:
            tracker.set_tags({names.DATASET_RETRIES_TAG: str(retries)})
    return data


def prepare_model(cfg: DictConfig, data: DataBundle, tracker: RunLogger) -> keras.Model:
    """The model with its preprocessing (and in-model augmentation) layers, summary logged."""
    input_layers = preprocessing_layers(cfg.dataset, data.adapt_data)
    # In-model augmentation first: on the raw 0..255 pixels, the same transform as in tf.data.
    extra_layers = model_augmentation(cfg.augmentation) + input_layers
    model = build_model(cfg.model, data.input_shape, data.num_classes, extra_layers)
    tracker.log_text(summary_text(model), names.MODEL_SUMMARY_ARTIFACT)
    tracker.log_params({"model.total_params": str(model.count_params())})
    return model


def finish(
    cfg: DictConfig,
    job: JobInfo,
    tracker: RunLogger,
    model: keras.Model,
    data: DataBundle,
    history: dict[str, list[float]],
    run_name: str,
) -> dict[str, float]:
    """History and curves, the test evaluation, the model and Hydra's files; the test metrics."""
    check_finite(history)
    tracker.log_dict(history, names.HISTORY_ARTIFACT)
    tracker.log_figure(training_curves(history, run_name), names.TRAINING_CURVES_PNG)
    # The trained model as an MLflow 3 logged model, with the test metrics linked to it.
    log_model = bool(cfg.tracking.log_model) and tracker.active
    with model_logging.linked_model(log_model, tracker.run_id, tracker.experiment_id) as model_id:
        if log_model:  # first: metrics logged before it would record it as the run's input
            register_as, alias = (
                cfg.tracking.get("register_model"),
                cfg.tracking.get("register_alias"),
            )
            model_logging.log_keras_model(
                model, data.sample, data.class_names, register_as, model_id, alias
            )
        # test_* metrics, classification report, confusion matrix, sample grid (evaluation/)
        evaluation = evaluate_and_log(model, data.test, data.class_names, tracker, run_name)
    jobs.log_job_files(tracker, job)
    return evaluation.metrics


def check_finite(history: dict[str, list[float]]) -> None:
    """Raise `TrainingDiverged` when the last training loss is not finite."""
    losses = history.get("loss") or []
    if losses and not math.isfinite(losses[-1]):
        raise TrainingDiverged(
            f"training diverged: loss is {losses[-1]} after epoch {len(losses)} "
            "(lower optimizer.learning_rate?)"
        )
