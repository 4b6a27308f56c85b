"""How a command ends on a user error: a short message naming the problem and the fix as the
last lines on stderr, exit status 2, no Python traceback. ``HYDRA_FULL_ERROR=1`` (Hydra's own
switch, honoured by every imgexp command) raises instead, traceback and all.

User errors are `imgexp.errors.UserError` and its subclasses (bad values, missing data,
untrusted configs, reruns that cannot be rebuilt) and the tracking layer's
`TrackingStoreError` (an unwritable or unreachable store), also when a library re-raised one
under its own type (Hydra's ``InstantiationException`` around a model builder's missing
weights). Anything else is a bug or a crash and keeps its traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from imgexp.errors import UserError

DEBUG_ENV = "HYDRA_FULL_ERROR"
EXIT_USER_ERROR = 2


def debugging() -> bool:
    """``HYDRA_FULL_ERROR=1``: tracebacks instead of messages (Hydra's own test of it)."""
    return os.environ.get(DEBUG_ENV) == "1"


def user_error(error: BaseException | None) -> BaseException | None:
    """The user's error (see the module docstring) that ``error`` is or was raised from."""
    # Only a loaded store module can have raised its error (importing it costs MLflow).
    store = sys.modules.get("imgexp.tracking.store")
    kinds = (UserError, store.TrackingStoreError) if store is not None else (UserError,)
    seen = 0
    while error is not None and seen < 16:  # `raise ... from`: the explicit cause chain
        if isinstance(error, kinds):
            return error
        error, seen = error.__cause__, seen + 1
    return None


def report(prog: str, error: BaseException) -> int:
    """Print ``prog: error: <message>`` on stderr; the exit status of a user error."""
    sys.stdout.flush()
    print(f"{prog}: error: {error}", file=sys.stderr, flush=True)
    return EXIT_USER_ERROR


def guard(prog: str, command: Callable[[], int | None]) -> int:
    """Run ``command``; a user error becomes `report`'s message and exit status."""
    try:
        return command() or 0
    except Exception as error:
        found = user_error(error)
        if debugging() or found is None:
            raise
        return report(prog, found)
