"""The logged model's ``python_function`` flavor: MLflow calls `_load_pyfunc` (the
``loader_module`` that `imgexp.tracking.model_logging` writes into the MLmodel) for
``mlflow models serve`` and ``mlflow.pyfunc.load_model``.

The model then takes either

* image files' bytes, base64-encoded, one image a row in a column ``image`` (any one column
  works): ``{"dataframe_split": {"columns": ["image"], "data": [["<base64>"], ...]}}``, any size
  and any format training reads, decoded and resized exactly as ``imgexp predict`` reads files
  (`imgexp.predict.images.load_image_bytes`); in Python raw ``bytes`` values work too; or
* uint8 pixels already at the model's input size, ``(N, H, W, C)``: ``{"inputs": [...]}``;

and answers one row per image: ``class`` (the most probable), its ``probability`` and
``probabilities`` (every class name to its probability), the numbers ``imgexp predict`` prints.
A row that is not an image is a 400 error naming the row; the server keeps serving."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from imgexp.predict import predictor, source
from imgexp.predict.images import DEFAULT_MAX_PIXELS, ImageError, load_image_bytes

IMAGE_COLUMN = "image"
DATA_URL = re.compile(r"^data:[^,]*;base64,")  # a browser's data: URL prefix, if sent


class ImageClassifier:
    """The pyfunc model: a `source.LoadedModel` behind MLflow's ``predict`` interface."""

    def __init__(self, loaded: source.LoadedModel, max_pixels: int = DEFAULT_MAX_PIXELS):
        self.loaded = loaded
        self.max_pixels = max_pixels

    def predict(self, model_input, params=None) -> pd.DataFrame:
        """Class probabilities of base64 images (a DataFrame column or a list of strings) or of
        uint8 pixels; bad input raises `MlflowException` (HTTP 400 when served)."""
        pixels = self.pixels_of(model_input)
        return self.answer(predictor.predict_pixels(self.loaded, pixels))

    def pixels_of(self, model_input) -> np.ndarray:
        """uint8 ``(N, H, W, C)`` at the model's input, whatever form the request took."""
        if isinstance(model_input, dict):
            model_input = pd.DataFrame(model_input)
        if isinstance(model_input, pd.DataFrame):
            return self.decode_all(image_column(model_input).tolist())
        array = np.asarray(model_input)
        if array.dtype.kind in "USO":
            return self.decode_all(array.reshape(-1).tolist())
        return checked_pixels(array, self.loaded)

    def decode_all(self, values: list) -> np.ndarray:
        """Each row's image through the training decode path, at the model's input."""
        size, channels = self.loaded.image_size, self.loaded.channels
        if not values:
            raise invalid("no images in the request")
        images = []
        for row, value in enumerate(values):
            data = image_bytes(value, row)
            try:
                images.append(
                    load_image_bytes(data, size, channels, self.max_pixels, f"row {row}")
                )
            except ImageError as error:
                raise invalid(str(error)) from None
        if size is None and len({image.shape for image in images}) > 1:
            raise invalid("this model takes any size, but one request's images must share one")
        return np.stack(images)

    def answer(self, probabilities: np.ndarray) -> pd.DataFrame:
        """One row per image: top class, its probability, every class's probability."""
        names = self.loaded.class_names
        top = probabilities.argmax(axis=1)
        return pd.DataFrame(
            {
                "class": [names[index] for index in top],
                "probability": [
                    float(row[index]) for row, index in zip(probabilities, top, strict=True)
                ],
                "probabilities": [
                    {name: float(value) for name, value in zip(names, row, strict=True)}
                    for row in probabilities
                ],
            }
        )


def _load_pyfunc(path: str) -> ImageClassifier:
    """Called by MLflow with the model's ``data`` folder (the MLmodel is in the folder above):
    the Keras model loaded natively, with the class names logged in its metadata."""
    import mlflow.tensorflow
    from mlflow.models import Model

    root = Path(path) if (Path(path) / "MLmodel").is_file() else Path(path).parent
    source.register_custom_objects()
    model = mlflow.tensorflow.load_model(str(root), keras_model_kwargs={"compile": False})
    names = (Model.load(str(root / "MLmodel")).metadata or {}).get("class_names")
    loaded = source.LoadedModel(model, source.checked_names(names, model, str(root)), str(root))
    return ImageClassifier(loaded)


def image_column(frame: pd.DataFrame) -> pd.Series:
    """The ``image`` column, or the only one."""
    if IMAGE_COLUMN in frame.columns:
        return frame[IMAGE_COLUMN]
    if len(frame.columns) == 1:
        return frame.iloc[:, 0]
    raise invalid(
        f"expected one column {IMAGE_COLUMN!r} of base64 image bytes; got columns "
        f"{list(frame.columns)[:10]}"
    )


def image_bytes(value, row: int) -> bytes:
    """A row's image file contents: raw ``bytes``, or a base64 string (a data: URL too)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if not isinstance(value, str):
        raise invalid(f"row {row}: expected a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(DATA_URL.sub("", value.strip()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise invalid(f"row {row}: not base64 ({error})") from None


def checked_pixels(array: np.ndarray, loaded: source.LoadedModel) -> np.ndarray:
    """Pixels as the model takes them: uint8, ``(N, H, W, C)`` at its input size."""
    expected = tuple(loaded.model.input_shape[1:])
    if array.ndim != 4 or any(
        e is not None and e != g for e, g in zip(expected, array.shape[1:], strict=False)
    ):
        raise invalid(
            f"pixels of shape {array.shape}: the model takes (N, {', '.join(map(str, expected))})"
            f" (or send base64 image files in a column {IMAGE_COLUMN!r})"
        )
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "iuf" or not (
        np.all(array == np.round(array))
        and array.min(initial=0) >= 0
        and array.max(initial=0) <= 255
    ):
        raise invalid("pixels must be integers from 0 to 255")
    return array.astype(np.uint8)


def invalid(message: str) -> MlflowException:
    """An error the scoring server answers as HTTP 400 with this message."""
    return MlflowException.invalid_parameter_value(message)
