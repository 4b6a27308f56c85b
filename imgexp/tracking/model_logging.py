"""Logs the trained Keras model with MLflow's tensorflow flavor: explicit uint8 image signature,
a tiny input example and the class names, so it reloads (native or pyfunc) and predicts alike;
optionally registers it in the Model Registry (``tracking.register_model``).

The model is an MLflow 3 *logged model* created when training starts (`linked_model`) and made
the active model, so every metric of the run is linked to it: the run's metrics table and the
experiment's Models tab show which model each number belongs to."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from importlib import metadata

import keras
import mlflow
import mlflow.tensorflow
import numpy as np
from mlflow.models import infer_signature

from imgexp.tracking import names

# What the logged model needs to load (imgexp: its custom preprocessing layers). Listing them
# skips MLflow's requirement inference, which loads the model in a subprocess (~10-25 s a run).
MODEL_REQUIREMENTS = ("mlflow", "tensorflow", "keras", "numpy", "cloudpickle", "imgexp")


class _ActiveModelNotices(logging.Filter):
    """MLflow announces every set/clear of the active model at INFO: once per run, noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Active model is")


logging.getLogger("mlflow.tracking.fluent").addFilter(_ActiveModelNotices())


@contextlib.contextmanager
def linked_model(
    enabled: bool, run_id: str | None, experiment_id: str | None
) -> Iterator[str | None]:
    """The logged model's id while the run trains (None when models are not logged); a run that
    fails leaves its model FAILED, never PENDING."""
    if not (enabled and run_id):
        yield None
        return
    logged = mlflow.initialize_logged_model(
        name="model", source_run_id=run_id, experiment_id=experiment_id
    )
    mlflow.set_active_model(model_id=logged.model_id)
    try:
        yield logged.model_id
    except BaseException:
        with contextlib.suppress(Exception):  # the run's own failure is what matters
            mlflow.finalize_logged_model(logged.model_id, "FAILED")
        raise
    finally:
        mlflow.clear_active_model()


def log_keras_model(
    model: keras.Model,
    sample: np.ndarray,
    class_names: list[str],
    register_as: str | None = None,
    model_id: str | None = None,
) -> str:
    """Log ``model`` as the run's ``model`` and return its model URI; with ``register_as``, also
    create a new version of that registered model (``models:/<name>/<version>``)."""
    example = np.asarray(sample[:2])
    signature = infer_signature(example, keras.ops.convert_to_numpy(model(example)))
    # MLflow predicts on the input example; keep Keras' progress bar out of the run's output.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        info = mlflow.tensorflow.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            metadata={"class_names": list(class_names)},
            registered_model_name=register_as or None,
            pip_requirements=pinned_requirements(),
            model_id=model_id,
        )
    mlflow.log_dict({"class_names": list(class_names)}, names.CLASS_NAMES_ARTIFACT)
    if register_as:
        version = info.registered_model_version
        mlflow.set_tag(names.REGISTERED_MODEL_TAG, f"models:/{register_as}/{version}")
    return info.model_uri


def pinned_requirements() -> list[str]:
    """``name==version`` of each installed `MODEL_REQUIREMENTS` package."""
    pinned = []
    for name in MODEL_REQUIREMENTS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            pinned.append(f"{name}=={metadata.version(name)}")
    return pinned
