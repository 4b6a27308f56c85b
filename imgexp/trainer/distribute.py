"""``trainer.strategy``: the tf.distribute strategy a run builds, compiles and fits under.

- ``default``: one device (TensorFlow's default strategy, no change to plain Keras);
- ``mirrored``: synchronous data parallelism over all local GPUs (the CPU when there is none);
- ``multi_worker_mirrored``: the same over several processes/hosts described by ``TF_CONFIG``;
  every worker runs the same command, and only the chief (``chief`` task, else ``worker`` 0)
  logs to MLflow, so a multi-worker job is one MLflow run. It always trains with the
  ``custom_loop`` trainer: Keras 3's ``model.fit`` fails under this strategy (keras#20585).

The batch size in the config is the global batch: tf.distribute splits each batch across the
replicas, so the maths (and the metrics, within float tolerance) match a single-device run.
Chief detection reads only the ``TF_CONFIG`` JSON and does not import TensorFlow.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")
_CREATED: dict[str, Any] = {}  # a strategy (multi-worker above all) is created once per process


def multi_worker(kind: Any) -> bool:
    """True for ``trainer.strategy=multi_worker_mirrored`` (an enum member or its name)."""
    return str(getattr(kind, "value", kind)) == "multi_worker_mirrored"


def tf_config() -> dict[str, Any]:
    """The parsed ``TF_CONFIG`` (empty when unset); a clear error when it is not JSON."""
    raw = os.environ.get("TF_CONFIG") or ""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {raw[:200]!r}") from error


def task() -> tuple[str, int]:
    """This process's (task type, index) in the cluster; ("chief", 0) outside a cluster."""
    spec = tf_config().get("task") or {}
    return str(spec.get("type") or "chief"), int(spec.get("index") or 0)


def is_chief() -> bool:
    """True for the process that owns the MLflow run and the outputs."""
    kind, index = task()
    cluster = tf_config().get("cluster") or {}
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in cluster


def num_workers() -> int:
    """Processes taking part in training (1 outside a cluster)."""
    cluster = tf_config().get("cluster") or {}
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def get_strategy(kind: str) -> Any:
    """The strategy for ``trainer.strategy``; create it before any other TensorFlow work
    (multi-worker collectives must be configured at program start-up)."""
    kind = str(getattr(kind, "value", kind))
    if kind not in STRATEGIES:
        raise ValueError(f"trainer.strategy={kind!r} is not one of {', '.join(STRATEGIES)}")
    if kind in _CREATED:
        return _CREATED[kind]
    import tensorflow as tf

    if kind == "default":
        strategy = tf.distribute.get_strategy()
    elif kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [device.name for device in gpus] or None  # None: the CPU
        strategy = tf.distribute.MirroredStrategy(devices)
    else:
        if not tf_config():
            log.warning("trainer.strategy=multi_worker_mirrored without TF_CONFIG: one worker")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _CREATED[kind] = strategy
    log.info(
        "tf.distribute: %s, %d replica(s), %d worker(s)",
        strategy_name(strategy),
        strategy.num_replicas_in_sync,
        num_workers(),
    )
    return strategy


def strategy_name(strategy: Any) -> str:
    """The strategy's ``tf.distribute`` name (MultiWorkerMirroredStrategy's class is called
    CollectiveAllReduceStrategy)."""
    name = type(strategy).__name__
    return "MultiWorkerMirroredStrategy" if name == "CollectiveAllReduceStrategy" else name


def shard_by_data(dataset: Any) -> Any:
    """Shard a multi-worker input by elements: in-memory and decoded-image pipelines have no
    files to shard by, and every worker then sees its own slice of each global batch."""
    if dataset is None:
        return None
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def tags(strategy: Any) -> dict[str, str]:
    """What the run records about its distribution."""
    kind, index = task()
    return {
        "distribute.strategy": strategy_name(strategy),
        "distribute.replicas": str(strategy.num_replicas_in_sync),
        "distribute.workers": str(num_workers()),
        "distribute.task": f"{kind}:{index}",
    }


def distribute_data(data: Any, kind: Any) -> Any:
    """The data bundle with its splits sharded by element for a multi-worker strategy."""
    if not multi_worker(kind):
        return data
    import dataclasses

    return dataclasses.replace(
        data,
        train=shard_by_data(data.train),
        validation=shard_by_data(data.validation),
        test=shard_by_data(data.test),
    )
