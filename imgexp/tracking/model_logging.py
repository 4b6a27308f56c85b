"""Logs the trained Keras model with MLflow's tensorflow flavor (native loads:
``mlflow.tensorflow.load_model``, ``imgexp predict``) and imgexp's own ``python_function``
flavor (``mlflow models serve``, ``mlflow.pyfunc.load_model``: `imgexp.predict.serving`, named
here only as a string, tracking/ imports nothing above it), which takes base64 image files as
well as uint8 pixels and answers class names with probabilities. It has no signature (MLflow
would enforce one before the model sees the request: a uint8 tensor signature refuses the
images, a string column the pixels); the input example is the sample images as base64 PNGs, and
the metadata hold the class names and the pixel input's dtype and shape. Optionally registered
in the Model Registry (``tracking.register_model``).

The model is an MLflow 3 *logged model*, created once training has succeeded (`linked_model`)
and logged first (which makes it an output of the run), then the active model while the test
split is evaluated, so the test metrics are linked to it: the run's metrics table and the
experiment's Models tab show which model they belong to. Per-epoch metrics stay the run's own
(linking every epoch made the Models tab show the first epoch's values)."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import os
import types
from collections.abc import Iterator
from importlib import metadata

import keras
import mlflow
import mlflow.tensorflow
import numpy as np
import pandas as pd
from mlflow.models import Model
from PIL import Image

from imgexp.tracking import names

# What the logged model needs to load (imgexp: its custom preprocessing layers). Listing them
# skips MLflow's requirement inference, which loads the model in a subprocess (~10-25 s a run).
MODEL_REQUIREMENTS = ("mlflow", "tensorflow", "keras", "numpy", "cloudpickle", "imgexp")
# The logged model's pyfunc loader (`_load_pyfunc`), replacing mlflow.tensorflow's.
SERVING_LOADER = "imgexp.predict.serving"
IMAGE_COLUMN = "image"  # the request's column of base64 image files (as serving reads it)


class _ExpectedNotices(logging.Filter):
    """MLflow announces every set/clear of the active model at INFO: once per run, noise; and
    warns at every model logged without a signature, which imgexp's are on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(
            ("Active model is", "You are saving a TensorFlow Core model or Keras model without")
        )


logging.getLogger("mlflow.tracking.fluent").addFilter(_ExpectedNotices())
logging.getLogger("mlflow.tensorflow").addFilter(_ExpectedNotices())


@contextlib.contextmanager
def linked_model(
    enabled: bool, run_id: str | None, experiment_id: str | None
) -> Iterator[str | None]:
    """The logged model's id while the run evaluates and logs it (None when models are not
    logged); a failure there leaves the model FAILED, never PENDING."""
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
    alias: str | None = None,
) -> str:
    """Log ``model`` as the run's ``model`` and return its model URI; with ``register_as``, also
    create a new version of that registered model (``models:/<name>/<version>``), and with
    ``alias`` point that alias at it (``models:/<name>@<alias>``, e.g. ``champion``)."""
    pixels = np.asarray(sample[:2])
    about = {
        "class_names": list(class_names),
        "pixels": {"dtype": "uint8", "shape": [-1, *pixels.shape[1:]]},
        "image_column": IMAGE_COLUMN,
    }
    # MLflow predicts on the input example; keep Keras' progress bar out of the run's output.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        info = Model.log(
            name="model",
            artifact_path=None,
            flavor=SERVED_TENSORFLOW,
            model=model,
            signature=False,  # no signature: both request kinds must reach the model
            input_example=pd.DataFrame({IMAGE_COLUMN: [png_base64(image) for image in pixels]}),
            metadata=about,
            registered_model_name=register_as or None,
            pip_requirements=pinned_requirements(),
            model_id=model_id,
        )
    mlflow.log_dict({"class_names": list(class_names)}, names.CLASS_NAMES_ARTIFACT)
    if register_as:
        version = info.registered_model_version
        mlflow.set_tag(names.REGISTERED_MODEL_TAG, f"models:/{register_as}/{version}")
        if alias:
            mlflow.MlflowClient().set_registered_model_alias(register_as, alias, version)
            mlflow.set_tag(names.REGISTERED_ALIAS_TAG, f"models:/{register_as}@{alias}")
    return info.model_uri


def pinned_requirements() -> list[str]:
    """``name==version`` of each installed `MODEL_REQUIREMENTS` package."""
    pinned = []
    for name in MODEL_REQUIREMENTS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            pinned.append(f"{name}=={metadata.version(name)}")
    return pinned


def save_served_model(path: str, mlflow_model: Model, **kwargs) -> None:
    """mlflow.tensorflow's ``save_model``, then imgexp's pyfunc loader instead of its own."""
    mlflow.tensorflow.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
    mlflow_model.flavors["python_function"]["loader_module"] = SERVING_LOADER
    mlflow_model.save(os.path.join(path, "MLmodel"))


# The flavor `Model.log` saves with; its name is the logged model's flavor in the UI.
SERVED_TENSORFLOW = types.SimpleNamespace(
    __name__="mlflow.tensorflow", save_model=save_served_model
)


def png_base64(pixels: np.ndarray) -> str:
    """A uint8 ``(H, W, 1 or 3)`` image as a base64 PNG file, as a client would send it."""
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
