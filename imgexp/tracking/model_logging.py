"""Logs the trained Keras model with MLflow's tensorflow flavor: explicit uint8 image signature,
a tiny input example and the class names, so it reloads (native or pyfunc) and predicts alike."""

from __future__ import annotations

import contextlib
import os

import keras
import mlflow
import mlflow.tensorflow
import numpy as np
from mlflow.models import infer_signature


def log_keras_model(model: keras.Model, sample: np.ndarray, class_names: list[str]) -> str:
    """Log ``model`` as the run's ``model`` and return its model URI."""
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
        )
    mlflow.log_dict({"class_names": list(class_names)}, "class_names.json")
    return info.model_uri
