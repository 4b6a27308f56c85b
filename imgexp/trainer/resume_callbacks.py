"""The Keras callbacks of a resumable run (`imgexp.trainer.resume`): each finished epoch's
metrics appended to the backup's history, and a restored run's MLflow steps, epoch counter and
shuffle order brought back in step with the restored weights."""

from __future__ import annotations

import logging
import math
from typing import Any

import keras

from imgexp.tracking import names
from imgexp.trainer.backup_files import HISTORY_FILE, read_json, write_json

log = logging.getLogger(__name__)


class HistoryWriter(keras.callbacks.Callback):
    """Appends each finished epoch's metrics to ``history.json`` (before the backup).

    ``session``: the run's `imgexp.trainer.resume.ResumeSession` (not imported: it imports
    this module)."""

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            values = self.session.history.setdefault(key, [])
            del values[epoch:]
            values.append(float(value))
        write_json(self.session.directory / HISTORY_FILE, self.session.history)


class RestoreSync(keras.callbacks.Callback):
    """After BackupAndRestore restored epoch E: keep the first E epochs of the saved history,
    log the ones MLflow lacks, and advance the training data's shuffle past E epochs."""

    def __init__(self, session: Any, train: Any) -> None:
        super().__init__()
        self.session = session
        self.train = train

    def on_train_begin(self, logs: dict | None = None) -> None:
        epoch = int(getattr(self.model, "_initial_epoch", None) or 0)
        if epoch <= self.session.resumed_epoch:
            return  # nothing restored, or a later fit() phase of the same run
        saved = read_json(self.session.directory / HISTORY_FILE) or {}
        self.session.history = {key: list(values[:epoch]) for key, values in saved.items()}
        self.session.resumed_epoch = epoch
        tracker = self.session.tracker
        logged = set(tracker.metric_steps("loss"))
        for step in range(1, epoch + 1):
            if step not in logged:
                tracker.log_metrics(
                    {k: v[step - 1] for k, v in self.session.history.items() if len(v) >= step},
                    step=step,
                )
        tracker.set_tags({names.RESUMED_FROM_TAG: epoch})
        per_epoch = self.params.get("shuffle_draws_per_epoch")  # set by the custom loop
        draws = per_epoch * epoch if per_epoch else shuffle_draws(self.train, epoch)
        for _ in range(draws):
            iter(self.train)  # each new iterator draws the next shuffle order
        log.info("resumed at epoch %d of the same run", epoch + 1)

    def on_train_end(self, logs: dict | None = None) -> None:
        losses = self.session.history.get("loss") or [0.0]
        if not math.isfinite(losses[-1]):
            self.session.finish()  # diverged weights are no state to continue from


def shuffle_draws(train: Any, epochs: int) -> int:
    """How many shuffle orders ``fit`` draws from ``train`` in ``epochs`` epochs: each new
    iterator draws one, and how many iterators Keras makes per epoch depends on its version and
    on whether the dataset's size is known, so it is measured on a tiny probe of that kind."""
    import tensorflow as tf

    known = int(tf.data.experimental.cardinality(train)) >= 0

    def draws_after(probe_epochs: int) -> int:
        base = tf.data.Dataset.range(8).shuffle(8, seed=0, reshuffle_each_iteration=True)
        batches = base if known else base.filter(lambda _: True)
        batches = batches.map(lambda i: (tf.cast([i], "float32"), tf.cast([0], "float32")))
        model = keras.Sequential(
            [keras.Input((1,)), keras.layers.Dense(1, "linear", False, "zeros")]
        )
        model.compile(keras.optimizers.SGD(0.0), "mse")
        model.fit(batches.batch(2), epochs=probe_epochs, verbose=0)
        after = [int(v) for v in base]
        fresh = tf.data.Dataset.range(8).shuffle(8, seed=0, reshuffle_each_iteration=True)
        for count in range(16):
            if [int(v) for v in fresh] == after:
                return count
        raise RuntimeError("could not measure how Keras iterates a dataset")

    first, second = draws_after(1), draws_after(2)
    return first + (epochs - 1) * (second - first)
