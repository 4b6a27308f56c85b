"""Ctrl-C and SIGTERM as one KeyboardInterrupt, never delivered inside an MLflow store call.

A KeyboardInterrupt raised in the middle of MLflow's SQLAlchemy session can leave the sqlite
file locked by that half-finished write; the cleanup that marks the run KILLED then fails with
"database is locked" and the run stays RUNNING (or is ended FINISHED by MLflow's atexit hook).
So a signal that arrives while MLflow, SQLAlchemy or sqlite code is on the stack is re-sent a
moment later, when the write is done."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STORE_MODULES = ("mlflow", "sqlalchemy", "sqlite3", "alembic")
RETRY_S = 0.05


def in_store_code(frame: FrameType | None) -> bool:
    """Whether any frame of the interrupted stack belongs to the tracking store's libraries."""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] in STORE_MODULES:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def interrupts_between_store_calls() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM raise KeyboardInterrupt once, outside store calls;
    repeats while the run is being closed are ignored so the cleanup can finish."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread (e.g. a launcher's worker)
        return
    delivered = False

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal delivered
        if delivered:
            with contextlib.suppress(OSError):
                os.write(2, b"imgexp: already stopping, closing the MLflow run\n")
            return
        if in_store_code(frame):
            threading.Timer(RETRY_S, os.kill, (os.getpid(), signum)).start()
            return
        delivered = True
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:  # None: installed outside Python, cannot be restored
                signal.signal(signum, handler)
