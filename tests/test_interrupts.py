"""Ctrl-C/SIGTERM become one KeyboardInterrupt at a safe point: never inside a store write
(which left sqlite locked and the run RUNNING), inside TensorFlow/Keras only when forced by a
second signal, at once in our own code; the previous handlers come back afterwards."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from imgexp.tracking.interrupts import interrupted, interrupts_at_safe_points, raise_if_stopping


def in_module(module: str) -> Callable[[Callable[[], object]], object]:
    """A caller whose frame belongs to ``module``, as a call into that library would."""
    namespace: dict = {"__name__": module}
    exec("def call(body):\n    return body()", namespace)  # noqa: S102
    return namespace["call"]


def busy(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


def kill_then_busy(signum: int, seconds: float) -> Callable[[], str]:
    def body() -> str:
        os.kill(os.getpid(), signum)
        return busy(seconds)

    return body


def test_a_signal_in_our_own_code_interrupts_at_once() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt, match="SIGINT"), interrupts_at_safe_points():
        kill_then_busy(signal.SIGINT, 5)()
    assert time.monotonic() - started < 2
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_store_write_is_never_interrupted_even_by_a_second_signal() -> None:
    finished = []
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), interrupts_at_safe_points():

        def write() -> str:
            os.kill(os.getpid(), signal.SIGTERM)
            busy(0.3)
            os.kill(os.getpid(), signal.SIGTERM)  # the impatient second one
            return busy(0.3)

        finished.append(in_module("mlflow.store.fake")(write))
        busy(5)  # back in our code: the retry delivers it here
    assert finished == ["done"]


def test_inside_tensorflow_the_stop_waits_for_the_next_safe_point() -> None:
    steps = []
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), interrupts_at_safe_points():
        for _ in range(3):
            steps.append(in_module("keras.src.trainer")(kill_then_busy(signal.SIGTERM, 0.5)))
            raise_if_stopping()  # what StopOnSignal does after every step
    assert steps == ["done"]


def test_a_second_signal_forces_the_stop_inside_tensorflow() -> None:
    def stuck() -> str:
        os.kill(os.getpid(), signal.SIGINT)
        busy(0.5)
        os.kill(os.getpid(), signal.SIGINT)
        return busy(10)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), interrupts_at_safe_points():
        in_module("tensorflow.python.eager")(stuck)
    assert time.monotonic() - started < 5


def test_a_repeated_signal_during_cleanup_is_ignored() -> None:
    cleaned = False
    with pytest.raises(KeyboardInterrupt), interrupts_at_safe_points():
        try:
            kill_then_busy(signal.SIGTERM, 5)()
        except KeyboardInterrupt:
            kill_then_busy(signal.SIGTERM, 0.3)()  # mid-cleanup: must not interrupt it
            cleaned = True
            raise
    assert cleaned


def test_a_delivered_stop_does_not_carry_over_into_the_next_block() -> None:
    with pytest.raises(KeyboardInterrupt), interrupts_at_safe_points():
        kill_then_busy(signal.SIGTERM, 5)()
    assert interrupted() == "SIGTERM"  # what a sweep tags its parent KILLED with
    with interrupts_at_safe_points():  # the next run in this process (a sweep's next job)
        raise_if_stopping()  # nothing pending: no interrupt
        assert busy(0.2) == "done"
    raise_if_stopping()  # outside any block: nothing to deliver
