"""Tracking reliability: credentials never logged, a bad store fails before training, and the
sweep summary read back from a real MLflow store."""

from __future__ import annotations

import socket
from pathlib import Path

import mlflow
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient

import imgexp
from imgexp.groups.summary import record, summarize
from imgexp.tracking.secrets import MASK, Redactor, is_secret_key, mask_override
from imgexp.tracking.store import TrackingStoreError

TINY = ("dataset=digits", "model.hidden_units=[8]", "trainer.epochs=1", "tracking.log_model=false")
SECRET = "hunter2-config-secret"
ENV_SECRET = "env-secret-never-logged-42"


@pytest.mark.parametrize(
    "key,secret",
    [("db_password", True), ("tracking.tags.apiToken", True), ("aws_secret_access_key", True),
     ("access-key", True), ("key", True), ("monkey", False), ("keyword", False),
     ("author", False), ("learning_rate", False), ("hidden_units", False)],
)  # fmt: skip
def test_credential_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_overrides_and_text_are_masked() -> None:
    assert mask_override("+db.password=abc") == f"+db.password={MASK}"
    assert mask_override("optimizer.learning_rate=0.1") == "optimizer.learning_rate=0.1"
    redactor = Redactor({"db": {"password": "s3cr3t-value"}})
    assert redactor.text("connecting with s3cr3t-value") == f"connecting with {MASK}"
    assert (
        redactor.yaml_text("db:\n  password: x\n  host: h\n")
        == f"db:\n  password: '{MASK}'\n  host: h\n"
    )


def all_logged_text(client: MlflowClient, run_id: str, tmp_path: Path) -> str:
    """Params, tags, run name and every artifact file of a run, as one string."""
    run = client.get_run(run_id)
    parts = [run.info.run_name, repr(run.data.params), repr(run.data.tags)]
    local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path)))
    parts += [p.read_text(errors="replace") for p in local.rglob("*") if p.is_file()]
    return "\n".join(parts)


def test_credentials_and_environment_never_reach_mlflow(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMGEXP_TEST_TOKEN", ENV_SECRET)
    result = imgexp.train(*TINY, f"+tracking.tags.db_password={SECRET}")
    client = MlflowClient(store_uri(isolated_home))
    logged = all_logged_text(client, result.run_id, tmp_path / "artifacts")
    assert SECRET not in logged and ENV_SECRET not in logged
    params = client.get_run(result.run_id).data.params
    assert params["tracking.tags.db_password"] == MASK
    assert f"db_password: '{MASK}'" in logged  # config/config.yaml keeps the key, not the value


def test_unwritable_store_fails_before_training(isolated_home: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(TrackingStoreError, match="not writable.*tracking.uri"):
        imgexp.train(*TINY, f"tracking.uri=sqlite:///{blocker}/store/mlflow.db")
    assert not (isolated_home / "backups").exists()  # nothing started


def test_full_disk_fails_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGEXP_MIN_FREE_MB", str(2**40))  # more than any disk has
    with pytest.raises(TrackingStoreError, match="MiB free"):
        imgexp.train(*TINY)


def test_unreachable_server_fails_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nobody listens there
    with pytest.raises(TrackingStoreError, match="does not answer"):
        imgexp.train(*TINY, f"tracking.uri=http://127.0.0.1:{port}")


def test_summary_picks_the_best_finished_child_and_lists_failures(isolated_home: Path) -> None:
    client = MlflowClient(store_uri(isolated_home))
    experiment = client.create_experiment("sweep-test")
    parent = client.create_run(experiment, run_name="sweep-x").info.run_id
    values = {"a": (0.5, "FINISHED"), "b": (0.9, "FINISHED"), "c": (0.99, "FAILED")}
    ids = {}
    for name, (value, status) in values.items():
        child = client.create_run(experiment, run_name=name,
                                  tags={"mlflow.parentRunId": parent,
                                        "imgexp.overrides": f"x={name}"})  # fmt: skip
        ids[name] = child.info.run_id
        client.log_metric(ids[name], "val_accuracy", value)
        client.set_terminated(ids[name], status)
    summary = summarize(client, parent, "val_accuracy", "maximize")
    assert summary.best.run_id == ids["b"]  # the failed one does not count
    assert [job.run_id for job in summary.failed] == [ids["c"]]
    assert summarize(client, parent, "val_accuracy", "minimize").best.run_id == ids["a"]
    record(client, summary)
    tags = client.get_run(parent).data.tags
    assert tags["imgexp.best_run_id"] == ids["b"]
    assert (tags["imgexp.n_jobs"], tags["imgexp.n_failed"]) == ("3", "1")
    assert tags["imgexp.failed_runs"] == ids["c"]
    assert client.get_run(parent).data.metrics["best_val_accuracy"] == 0.9
    assert "FAILED" in summary.table() and "x=c" in summary.table()
