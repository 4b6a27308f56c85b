"""SIGTERM/Ctrl-C never interrupt a store write (which would leave sqlite locked and the run
RUNNING); they arrive right after it, once, and the previous handlers come back."""

from __future__ import annotations

import os
import signal
import time

import pytest

from imgexp.tracking.interrupts import in_store_code, interrupts_between_store_calls

# A function whose frames look like MLflow's, as a store write does.
STORE_WRITE = """
def write(seconds):
    os.kill(os.getpid(), signal.SIGTERM)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "written"
"""


def store_write():
    namespace = {"__name__": "mlflow.store.fake", "os": os, "signal": signal, "time": time}
    exec(STORE_WRITE, namespace)  # noqa: S102 - builds a frame owned by an "mlflow" module
    return namespace["write"]


def wait_for_signal(seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)


def test_a_signal_during_a_store_write_waits_for_the_write_to_finish() -> None:
    write = store_write()
    finished = []
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"), interrupts_between_store_calls():
        finished.append(write(0.3))  # the signal lands inside; must not interrupt it
        wait_for_signal()
    assert finished == ["written"]


def test_a_signal_outside_store_code_interrupts_at_once_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt, match="SIGINT"), interrupts_between_store_calls():
        os.kill(os.getpid(), signal.SIGINT)
        wait_for_signal()
    assert time.monotonic() - started < 2
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_repeated_signal_during_cleanup_is_ignored() -> None:
    cleaned = False
    with pytest.raises(KeyboardInterrupt), interrupts_between_store_calls():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            wait_for_signal()
        except KeyboardInterrupt:
            os.kill(os.getpid(), signal.SIGTERM)  # impatient user, mid-cleanup
            time.sleep(0.2)
            cleaned = True
            raise
    assert cleaned


def test_in_store_code_looks_at_the_whole_stack() -> None:
    import sys

    assert not in_store_code(sys._getframe())
    namespace = {"__name__": "sqlalchemy.orm.session", "sys": sys}
    exec("def inner(f):\n    return f(sys._getframe())", namespace)  # noqa: S102
    assert namespace["inner"](in_store_code)
