"""``imgexp eval``: evaluate a logged model on the test split of any dataset config and log the
same metrics and artifacts as a training run, into a new run linked to the training run.

Without a ``dataset=``/``experiment=`` override it evaluates on the dataset config the training
run used (its logged overrides). The dataset is read at the model's input size and channels, and
its classes are matched to the model's by name (a dataset with a subset of them works)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from imgexp.config import compose_config
from imgexp.tracking import names

log = logging.getLogger(__name__)

# Training overrides that decide which data a model is evaluated on (the rest is irrelevant).
DATA_KEYS = ("dataset", "experiment", "trainer.batch_size", "trainer.seed", "paths")


@dataclass
class EvalResult:
    """What ``imgexp-eval`` returns: the new run, the training run it evaluates, the numbers."""

    run_id: str | None
    experiment_id: str | None
    source_run_id: str | None
    metrics: dict[str, float]
    evaluation: object  # imgexp.evaluation.report.Evaluation


def evaluate_logged_model(
    model: str,
    *overrides: str,
    config_dir: str | Path | None = None,
    composed: DictConfig | None = None,
) -> EvalResult:
    """Load ``model`` (runs:/, models:/, .keras), build the dataset's test split, evaluate, log.

    ``composed``: the config of ``overrides`` when the caller has composed it already."""
    cfg, loaded, inherited = configure(model, overrides, config_dir, composed)

    from imgexp.dataset.build import build_data
    from imgexp.evaluation.evaluate import evaluate_and_log
    from imgexp.tracking.params import log_config
    from imgexp.tracking.run import tracked_run

    data = build_data(cfg.dataset, int(cfg.trainer.batch_size), int(cfg.trainer.seed))
    test = labels_as_model_classes(data.test, data.class_names, loaded.class_names)
    source_name = run_name_of(loaded.run_id, cfg.tracking.uri) if loaded.run_id else model
    name = cfg.tracking.get("run_name") or f"eval {source_name} on {data.name}"
    tags = {
        names.TASK_TAG: "eval",
        names.MODEL_URI_TAG: model,
        names.SOURCE_RUN_TAG: loaded.run_id or "",
        names.OVERRIDES_TAG: " ".join(overrides),
        names.NOTE_TAG: f"Evaluation of `{model}` on the test split of `{data.name}`"
        + (f" (training run `{loaded.run_id}`)." if loaded.run_id else "."),
    } | dict(cfg.tracking.get("tags") or {})
    # What decided this evaluation (the model/optimizer groups describe no evaluated model).
    used = {
        "dataset": OmegaConf.to_container(cfg.dataset, resolve=True, enum_to_str=True),
        "eval": {
            "model": model,
            "batch_size": int(cfg.trainer.batch_size),
            "seed": int(cfg.trainer.seed),
        },
    }
    with tracked_run(cfg.tracking, name, tags) as tracker:
        tracker.set_tags(data.tags())
        log_config(tracker, used, {"overrides": list(overrides), "inherited": inherited})
        tracker.log_dict(data.lineage(), names.DATASET_ARTIFACT)
        tracker.log_dict({"class_names": loaded.class_names}, names.CLASS_NAMES_ARTIFACT)
        evaluation = evaluate_and_log(loaded.model, test, loaded.class_names, tracker, name)
    return EvalResult(
        tracker.run_id, tracker.experiment_id, loaded.run_id, evaluation.metrics, evaluation
    )


def configure(
    model: str,
    overrides: tuple[str, ...],
    config_dir: str | Path | None,
    composed: DictConfig | None = None,
) -> tuple[DictConfig, object, list[str]]:
    """The composed config (with the training run's data overrides when none are given), the
    loaded model, and the inherited overrides; the dataset is set to the model's input."""
    from imgexp.predict import source

    cfg = composed if composed is not None else compose_config(*overrides, config_dir=config_dir)
    loaded = source.load(model, cfg.tracking.uri)  # an unknown run fails before TF loads
    inherited: list[str] = []
    chosen = any(key_of(item).startswith(("dataset", "experiment")) for item in overrides)
    if loaded.run_id and not chosen:
        inherited = training_overrides(loaded.run_id, cfg.tracking.uri)
        check_inherited(inherited, loaded.run_id)
        cfg = compose_config(*inherited, *overrides, config_dir=config_dir)
    with open_dict(cfg):
        cfg.pop("hydra", None)
        fit_dataset_to_model(cfg.dataset, loaded)
    return cfg, loaded, inherited


def check_inherited(inherited: list[str], run_id: str) -> None:
    """Overrides read from a run's artifact are untrusted input (anyone who can write to the
    store could have written them): no interpolation, and every ``_target_`` they set must be
    on imgexp's allowlist (imgexp/targets.py), checked before anything is composed."""
    from imgexp import targets
    from imgexp.errors import ConfigError

    source = f"run {run_id}'s {names.OVERRIDES_ARTIFACT}"
    tree: dict[str, object] = {}
    for item in inherited:
        key, _, value = item.partition("=")
        if "${" in value:
            raise ConfigError(f"{source} holds an interpolation, refused: {item}")
        try:
            parsed = yaml.safe_load(value) if value else value
        except yaml.YAMLError:
            parsed = value
        tree[key_of(key)] = {"_target_": parsed} if key.endswith("_target_") else parsed
    targets.check_targets(tree, source)


def key_of(override: str) -> str:
    """``+dataset.x=1`` -> ``dataset.x``."""
    return override.split("=", 1)[0].lstrip("+~")


def training_overrides(run_id: str, tracking_uri: str) -> list[str]:
    """The data-related overrides of the training run (its ``config/overrides.yaml``)."""
    import mlflow

    from imgexp.tracking.uri import point_mlflow_at

    point_mlflow_at(tracking_uri)
    try:
        logged = yaml.safe_load(
            mlflow.artifacts.load_text(f"runs:/{run_id}/{names.OVERRIDES_ARTIFACT}")
        )
    except Exception as error:  # noqa: BLE001 - a run logged without it: default dataset
        log.warning(
            "run %s has no config/overrides.yaml (%s); using the default dataset config",
            run_id,
            error,
        )
        return []
    return [item for item in logged.get("overrides") or [] if key_of(item).startswith(DATA_KEYS)]


def run_name_of(run_id: str, tracking_uri: str) -> str:
    """The training run's name (for the evaluation run's name)."""
    from imgexp.tracking import store

    return store.client(tracking_uri).get_run(run_id).info.run_name or run_id


def fit_dataset_to_model(dataset: DictConfig, loaded: object) -> None:
    """Read the dataset at the model's input size and channel count."""
    if loaded.image_size is not None:
        dataset.image_size = list(loaded.image_size)
    dataset.color_mode = "rgb" if loaded.channels == 3 else "grayscale"


def labels_as_model_classes(test, data_classes: list[str], model_classes: list[str]):
    """Relabel the split so that label i means the model's class i (matched by name)."""
    if list(data_classes) == list(model_classes):
        return test
    unknown = [name for name in data_classes if name not in model_classes]
    if unknown:
        raise ValueError(
            f"dataset classes {unknown} are not classes of the model; it predicts "
            f"{model_classes} (select a subset with dataset.classes=[...])"
        )
    import tensorflow as tf

    mapping = tf.constant([model_classes.index(name) for name in data_classes], tf.int64)
    return test.map(lambda images, labels: (images, tf.gather(mapping, tf.cast(labels, tf.int64))))
