"""tf.distribute: two real worker processes on 127.0.0.1 (MultiWorkerMirroredStrategy on CPU)
give one MLflow run, logged by the chief, with the metrics of a single-worker run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient

import imgexp
from imgexp.trainer import distribute

COMMAND = ["dataset=digits", "model.hidden_units=[16]", "trainer.epochs=2",
           "trainer.batch_size=128", "optimizer.learning_rate=0.01",  # few collective steps
           "trainer.deterministic=true", "tracking.log_model=false"]  # fmt: skip


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def runs(home: Path) -> list:
    client = MlflowClient(store_uri(home))
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


@pytest.mark.parametrize(
    "tf_config,chief",
    [(None, True),
     ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, True),
     ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, False),
     ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}},
      False)],
)  # fmt: skip
def test_only_the_chief_logs(tf_config, chief, monkeypatch: pytest.MonkeyPatch) -> None:
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert distribute.is_chief() is chief


def test_bad_tf_config_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        distribute.is_chief()


@pytest.mark.slow
def test_two_workers_make_one_run_matching_a_single_worker(
    isolated_home: Path, tmp_path: Path
) -> None:
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    imgexp_bin = str(Path(sys.executable).parent / "imgexp")
    workers = []
    for index in range(2):
        env = dict(os.environ, IMGEXP_HOME=str(isolated_home), CUDA_VISIBLE_DEVICES="",
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": index}}))  # fmt: skip
        log = (tmp_path / f"worker{index}.log").open("w")
        workers.append(subprocess.Popen(
            [imgexp_bin, *COMMAND, "trainer.strategy=multi_worker_mirrored"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        ))  # fmt: skip
    codes = [worker.wait(timeout=400) for worker in workers]
    logs = [(tmp_path / f"worker{i}.log").read_text()[-3000:] for i in range(2)]
    assert codes == [0, 0], logs
    (run,) = runs(isolated_home)  # the chief's run only
    assert run.info.status == "FINISHED"
    assert run.data.tags["distribute.strategy"] == "MultiWorkerMirroredStrategy"
    assert (run.data.tags["distribute.workers"], run.data.tags["distribute.replicas"]) == (
        "2",
        "2",
    )
    client = MlflowClient(store_uri(isolated_home))
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2]

    assert "training with the custom_loop trainer" in logs[0]  # model.fit fails under MWMS

    # The same loop on one worker (fit draws its shuffle orders differently, so fit and
    # custom_loop part ways after epoch 1 whatever the strategy); the difference left is
    # float summation order across the two replicas.
    single = imgexp.train(*COMMAND, "trainer=custom_loop", "tracking=none").metrics
    for key in ("loss", "val_loss", "test_loss"):
        assert run.data.metrics[key] == pytest.approx(single[key], rel=1e-3), key
    for key in ("accuracy", "val_accuracy", "test_accuracy"):
        assert run.data.metrics[key] == pytest.approx(single[key], abs=0.01), key


@pytest.mark.slow
def test_mirrored_strategy_trains_in_process() -> None:
    result = imgexp.train(*COMMAND, "trainer.strategy=mirrored", "trainer.epochs=1")
    client = MlflowClient(store_uri(Path(os.environ["IMGEXP_HOME"])))
    tags = client.get_run(result.run_id).data.tags
    assert tags["distribute.strategy"] == "MirroredStrategy"
    assert result.metrics["test_accuracy"] > 0.1
