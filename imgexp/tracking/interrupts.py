"""Ctrl-C and SIGTERM as one KeyboardInterrupt, raised where it cannot corrupt anything.

An exception raised asynchronously inside library code is dangerous: in the middle of MLflow's
SQLAlchemy session it leaves the sqlite file locked, so the cleanup that marks the run KILLED
fails with "database is locked" and the run stays RUNNING; inside TensorFlow/Keras it can
unwind through native callbacks. So a stop request is delivered

* at once when the interrupted code is neither the store's nor TensorFlow's (data scan, ours);
* otherwise at the next safe point: `raise_if_stopping`, which the trainers call after every
  step (see `imgexp.trainer.callbacks.StopOnSignal`), or the next retry outside those libraries;
* a second Ctrl-C/SIGTERM forces it, anywhere but inside a store call."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STORE_MODULES = frozenset({"mlflow", "sqlalchemy", "sqlite3", "alembic"})
NATIVE_MODULES = frozenset({"tensorflow", "keras", "tf_keras", "optree", "absl"})
RETRY_S = 0.2


def stack_modules(frame: FrameType | None) -> set[str]:
    """Top-level package of every frame on the interrupted stack."""
    modules = set()
    while frame is not None:
        modules.add(frame.f_globals.get("__name__", "").split(".", 1)[0])
        frame = frame.f_back
    return modules


class StopRequest:
    """What the signal handler knows between a signal and the KeyboardInterrupt it becomes."""

    def __init__(self) -> None:
        self.signum: int | None = None  # the first signal received
        self.delivered = False
        self.retry_sent = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.delivered:
            say("already stopping, closing the MLflow run")
            return
        retry, self.retry_sent = self.retry_sent, False
        forced = self.signum is not None and not retry
        if self.signum is None:
            self.signum = signum
            say("stopping after the current step (Ctrl-C again to stop at once)")
        modules = stack_modules(frame)
        if modules & STORE_MODULES or (modules & NATIVE_MODULES and not forced):
            self.retry_later(signum)
            return
        self.deliver()

    def retry_later(self, signum: int) -> None:
        def resend() -> None:
            if not self.delivered:
                self.retry_sent = True
                os.kill(os.getpid(), signum)

        timer = threading.Timer(RETRY_S, resend)
        timer.daemon = True
        timer.start()

    def deliver(self) -> None:
        self.delivered = True
        name = signal.Signals(self.signum).name
        DELIVERED.append(name)
        raise KeyboardInterrupt(f"signal {name}")


ACTIVE: list[StopRequest] = []  # the innermost block's request last
DELIVERED: list[str] = []  # every signal this process turned into an interrupt


def interrupted() -> str | None:
    """The signal (``"SIGTERM"``, ``"SIGINT"``) that stopped this process, if one did."""
    return DELIVERED[-1] if DELIVERED else None


def raise_if_stopping() -> None:
    """A safe point: raise the pending KeyboardInterrupt here, if a stop was requested."""
    if ACTIVE and ACTIVE[-1].signum is not None and not ACTIVE[-1].delivered:
        ACTIVE[-1].deliver()


def say(message: str) -> None:
    with contextlib.suppress(OSError):  # no logging in a signal handler: it takes locks
        os.write(2, f"imgexp: {message}\n".encode())


@contextlib.contextmanager
def interrupts_at_safe_points() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM become one KeyboardInterrupt raised at a safe point;
    the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread (e.g. a launcher's worker)
        return
    request = StopRequest()
    previous = {signum: signal.signal(signum, request.handle) for signum in SIGNALS}
    ACTIVE.append(request)
    try:
        yield
    finally:
        ACTIVE.remove(request)
        for signum, handler in previous.items():
            if handler is not None:  # None: installed outside Python, cannot be restored
                signal.signal(signum, handler)
