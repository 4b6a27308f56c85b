"""Loads a trained model for prediction from where imgexp put it: ``runs:/<id>/model``,
``models:/<name>/<version or @alias>``, a ``.keras`` file or an MLflow model folder; with the
class names saved beside it. Unknown runs and model names fail with a message naming them."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

from imgexp.tracking.names import CLASS_NAMES_ARTIFACT
from imgexp.tracking.uri import point_mlflow_at

log = logging.getLogger(__name__)

# Packages whose modules register custom Keras layers/models (register_keras_serializable):
# they must be imported before a saved model that uses them can be deserialized.
SERIALIZABLE_PACKAGES = ("imgexp.dataset.preprocessing", "imgexp.augmentation", "imgexp.model")


class ModelSourceError(ValueError):
    """The model (or its run, registered name or version) cannot be found or loaded."""


@dataclass
class LoadedModel:
    """A native Keras model ready for direct calls, with what it needs to read images."""

    model: object  # keras.Model
    class_names: list[str]
    source: str
    run_id: str | None = None

    @property
    def image_size(self) -> tuple[int, int] | None:
        """The (height, width) the model takes; None when it accepts any size."""
        height, width = self.model.input_shape[1:3]
        return None if height is None or width is None else (int(height), int(width))

    @property
    def channels(self) -> int:
        """1 (grayscale) or 3 (RGB)."""
        return int(self.model.input_shape[-1])


def load(source: str, tracking_uri: str, class_names: list[str] | None = None) -> LoadedModel:
    """Load ``source`` natively (``keras.Model``, not pyfunc: direct calls on a few images are
    about 10x faster than ``pyfunc.predict``). ``class_names`` overrides the saved ones."""
    if source.startswith(("runs:/", "models:/")):
        return load_from_mlflow(source, tracking_uri, class_names)
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".keras":
        register_custom_objects()  # imports TensorFlow, quietly
        import keras

        model = keras.models.load_model(path, compile=False)
        names = class_names or class_names_beside(path)
        return LoadedModel(model, checked_names(names, model, source), source)
    if (path / "MLmodel").is_file():
        return load_from_mlflow(str(path.resolve()), tracking_uri, class_names)
    raise ModelSourceError(
        f"model {source!r}: not a .keras file, an MLflow model folder, runs:/<run_id>/model "
        f"or models:/<name>/<version>"
    )


def load_from_mlflow(uri: str, tracking_uri: str, class_names: list[str] | None) -> LoadedModel:
    """Check that the run or registered model exists (clear message), then load it natively."""
    import mlflow

    point_mlflow_at(tracking_uri)
    check_exists(uri, tracking_uri)  # before TensorFlow loads: a typo fails in a second
    register_custom_objects()
    import mlflow.tensorflow  # imports TensorFlow: after the quiet import above

    try:
        info = mlflow.models.get_model_info(uri)
        model = mlflow.tensorflow.load_model(uri, keras_model_kwargs={"compile": False})
    except mlflow.exceptions.MlflowException as error:
        raise ModelSourceError(f"cannot load model {uri} from {tracking_uri}: {error}") from None
    names = class_names or (info.metadata or {}).get("class_names")
    if not names and info.run_id:
        names = class_names_of_run(info.run_id)
    return LoadedModel(model, checked_names(names, model, uri), uri, info.run_id)


def check_exists(uri: str, tracking_uri: str) -> None:
    """A missing run id, registered model name or version gets a message saying which."""
    from mlflow.exceptions import MlflowException

    from imgexp.tracking import store

    try:
        client = store.client(tracking_uri)  # creates/migrates a sqlite store under its lock
    except store.TrackingStoreError as error:
        raise ModelSourceError(str(error)) from None
    if match := re.fullmatch(r"runs:/([^/]+)/.+", uri):
        try:
            client.get_run(match.group(1))
        except MlflowException:
            raise ModelSourceError(
                f"run id {match.group(1)!r} not found in the MLflow store {tracking_uri}"
            ) from None
    elif match := re.fullmatch(r"models:/([^/@]+)(?:/([^/]+)|@(.+))?", uri):
        name, version, alias = match.groups()
        if name.startswith("m-") and version is None and alias is None:
            return  # a logged model id (MLflow 3), not a registered name
        try:
            client.get_registered_model(name)
        except MlflowException:
            known = [model.name for model in client.search_registered_models(max_results=50)]
            raise ModelSourceError(
                f"registered model {name!r} not found in {tracking_uri}; registered models: "
                f"{known or 'none'} (register one with tracking.register_model=<name>)"
            ) from None
        if version and version.isdigit():
            try:
                client.get_model_version(name, version)
            except MlflowException:
                versions = sorted(
                    int(v.version) for v in client.search_model_versions(f"name='{name}'")
                )
                raise ModelSourceError(
                    f"registered model {name!r} has no version {version}; versions: {versions}"
                ) from None


def class_names_of_run(run_id: str) -> list[str] | None:
    """The run's ``class_names.json`` artifact (logged next to every imgexp model)."""
    import mlflow

    try:
        logged = mlflow.artifacts.load_dict(f"runs:/{run_id}/{CLASS_NAMES_ARTIFACT}")
        return logged["class_names"]
    except Exception:  # noqa: BLE001 - absent artifact: fall back to numbered classes
        return None


def class_names_beside(path: Path) -> list[str] | None:
    """``<name>.class_names.json`` or ``class_names.json`` next to a ``.keras`` file."""
    for candidate in (
        path.with_suffix(".class_names.json"),
        path.parent / CLASS_NAMES_ARTIFACT,
    ):
        if candidate.is_file():
            return read_class_names(candidate)
    return None


def read_class_names(path: str | Path) -> list[str]:
    """A JSON list, or a JSON object with a ``class_names`` list (imgexp's artifact)."""
    data = json.loads(Path(path).read_text())
    names = data.get("class_names") if isinstance(data, dict) else data
    if not isinstance(names, list):
        raise ModelSourceError(f"{path}: expected a JSON list of class names")
    return [str(name) for name in names]


def checked_names(names: list[str] | None, model: object, source: str) -> list[str]:
    """The class names, matched against the model's output size (numbers when none are known)."""
    num_classes = int(model.output_shape[-1])
    if not names:
        log.warning("no class names saved with %s; classes are numbered", source)
        return [str(index) for index in range(num_classes)]
    if len(names) != num_classes:
        raise ModelSourceError(
            f"{len(names)} class names for a model with {num_classes} outputs ({source})"
        )
    return [str(name) for name in names]


def register_custom_objects() -> None:
    """Import every imgexp module that registers Keras-serializable layers or models."""
    from imgexp.trainer.tensorflow_import import import_tensorflow

    import_tensorflow()  # before Keras: without TensorFlow's start-up noise
    for name in SERIALIZABLE_PACKAGES:
        module = importlib.import_module(name)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), f"{name}."):
            importlib.import_module(info.name)
