"""A run fills MLflow's own views: its datasets (one input per split, with source, digest and
counts), its model as an MLflow 3 logged model with the run's metrics linked to it."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient

import imgexp

TINY = ("dataset=digits", "model.hidden_units=[8]", "trainer.epochs=2", "trainer.verbose=0")


def test_a_run_lists_its_splits_and_its_logged_model(isolated_home: Path) -> None:
    result = imgexp.train(*TINY)
    client = MlflowClient(store_uri(isolated_home))
    run = client.get_run(result.run_id)
    inputs = run.inputs.dataset_inputs
    contexts = {t.value for i in inputs for t in i.tags if t.key == "mlflow.data.context"}
    assert contexts == {"training", "validation", "test"}
    counts = {}
    for item in inputs:
        assert item.dataset.name == "digits"
        assert "load_digits" in item.dataset.source
        profile = json.loads(item.dataset.profile)
        assert profile["dataset_digest"] == run.data.tags["dataset.digest"]
        split = {t.key: t.value for t in item.tags}["imgexp.split"]
        counts[split] = profile["num_examples"]
    assert counts == {s: int(run.data.tags[f"dataset.n_{s}"]) for s in counts}
    assert len({item.dataset.digest for item in inputs}) == 3  # one digest per split
    (output,) = run.outputs.model_outputs  # an output of the run, once
    assert not run.inputs.model_inputs
    logged = client.get_logged_model(output.model_id)
    assert logged.status.to_proto() == mlflow.entities.LoggedModelStatus.READY.to_proto()
    linked = {m.key: m.value for m in logged.metrics}
    assert linked["test_accuracy"] == result.metrics["test_accuracy"]
    assert "val_loss" not in linked  # per-epoch curves stay the run's (no first-epoch values)
    assert mlflow.get_active_model_id() is None  # the next run of this process starts clean


def test_a_run_that_fails_leaves_no_pending_model(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="nope"):
        imgexp.train(*TINY, "dataset.classes=[nope]")  # before training: no model at all
    client = MlflowClient(store_uri(isolated_home))
    assert client.search_logged_models(["1"]) == []
    from imgexp.tracking import model_logging

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model_logging, "log_keras_model", broken)
    with pytest.raises(OSError, match="disk full"):  # while the model is logged: FAILED
        imgexp.train(*TINY)
    statuses = {run.info.status for run in client.search_runs(["1"])}
    assert statuses == {"FAILED"}
    (model,) = client.search_logged_models(["1"])
    assert model.status.to_proto() == mlflow.entities.LoggedModelStatus.FAILED.to_proto()
    assert mlflow.get_active_model_id() is None


def test_system_metrics_description_and_the_experiment_kind(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgexp.tracking import run as tracked

    monkeypatch.setattr(tracked, "SYSTEM_METRICS_INTERVAL_S", 0.5)  # a tiny run lasts seconds
    on = imgexp.train(*TINY, "tracking.log_model=false")
    off = imgexp.train(*TINY, "tracking.log_model=false", "tracking.system_metrics=false")
    client = MlflowClient(store_uri(isolated_home))
    sampled = {k for k in client.get_run(on.run_id).data.metrics if k.startswith("system/")}
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= sampled
    assert not any(k.startswith("system/") for k in client.get_run(off.run_id).data.metrics)
    note = client.get_run(on.run_id).data.tags["mlflow.note.content"]
    command = note.split("Command:")[1].split()
    assert [w for w in command if w != "\\"] == ["imgexp", *TINY, "tracking.log_model=false"]
    experiment = client.get_experiment(client.get_run(on.run_id).info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_preset_run_describes_its_article(tiny_preset) -> None:
    from imgexp.job import JobInfo, run_description

    cfg = tiny_preset("fashion_mnist_mlp")
    note = run_description(cfg, JobInfo(overrides=["experiment=fashion_mnist_mlp"],
                                         preset="fashion_mnist_mlp"))  # fmt: skip
    assert "Building an image classifier using Keras and TensorFlow" in note
    assert "87% test accuracy" in note and "imgexp experiment=fashion_mnist_mlp" in note


def test_a_dataset_registered_by_a_concurrent_run_is_retried_and_said(
    isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """MLflow registers a dataset by look-up-then-insert: a concurrent run that inserts the same
    split between the two (seen on a team server: a 4-job sweep lost one job to it) must cost a
    retry, not the run. The concurrent insert here is real SQL on the run's own store."""
    from sqlalchemy import event

    from imgexp.tracking.datasets import log_splits, split_digest

    mlflow.set_tracking_uri(store_uri(isolated_home))
    engine = mlflow.tracking._tracking_service.utils._get_store().engine
    digest = split_digest("d1", "train")
    raced: list[str] = []

    def insert_after_lookup(conn, cursor, statement, *args) -> None:
        if (
            raced
            or not statement.lstrip().startswith("SELECT")
            or "FROM datasets" not in statement
        ):
            return
        raced.append(statement)  # the other run's insert lands between look-up and insert
        conn.exec_driver_sql(
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type,"
            " dataset_source) VALUES (?, ?, ?, ?, 'code', '{}')",
            ("0" * 32, 0, "digits", digest),
        )

    event.listen(engine, "after_cursor_execute", insert_after_lookup)
    try:
        with mlflow.start_run() as run, caplog.at_level("WARNING"):
            retries = log_splits("digits", "sklearn", "d1", {"train": 3}, {"train": {"0": 3}})
    finally:
        event.remove(engine, "after_cursor_execute", insert_after_lookup)
    assert raced and retries == 1
    (item,) = MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    assert item.dataset.digest == digest  # linked to the row the other run made
    assert "another run registered dataset 'digits'" in caplog.text
    assert "after 1 retry" in caplog.text
