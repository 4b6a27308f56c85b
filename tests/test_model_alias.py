"""``tracking.register_alias``: the registered model's alias follows the new version, and
``models:/<name>@<alias>`` works wherever a model URI does (predict, eval, serving loads it
through MLflow's own resolver)."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient

from imgexp.config import compose_config
from imgexp.errors import ConfigError
from imgexp.evaluation.logged_model import evaluate_logged_model
from imgexp.predict import source


def test_the_alias_points_at_the_new_version_and_loads(trained_digits, monkeypatch) -> None:
    home, result = trained_digits
    uri = store_uri(home)
    monkeypatch.setenv("IMGEXP_HOME", str(home))
    client = MlflowClient(uri)
    version = client.get_model_version_by_alias("digits-tiny", "champion")
    assert version.run_id == result.run_id
    tags = client.get_run(result.run_id).data.tags
    assert tags["imgexp.registered_alias"] == "models:/digits-tiny@champion"
    loaded = source.load("models:/digits-tiny@champion", uri)
    assert loaded.run_id == result.run_id
    images = np.random.default_rng(1).integers(0, 256, (3, 8, 8, 1)).astype(np.uint8)
    np.testing.assert_allclose(
        loaded.model.predict(images, verbose=0), result.model.predict(images, verbose=0),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip
    evaluated = evaluate_logged_model("models:/digits-tiny@champion", "tracking.log_model=false")
    assert evaluated.source_run_id == result.run_id
    assert evaluated.metrics["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"])
    mlflow.set_tracking_uri(uri)
    served = mlflow.pyfunc.load_model("models:/digits-tiny@champion")  # what serving loads
    assert served.metadata.metadata["class_names"] == [str(k) for k in range(10)]


def test_an_alias_needs_a_registered_model() -> None:
    with pytest.raises(ConfigError, match="tracking.register_alias=champion: needs"):
        compose_config("tracking.register_alias=champion")
