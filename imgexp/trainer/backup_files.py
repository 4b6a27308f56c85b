"""The files of a run's backup directory (``<root>/backups/<dataset>-<model>-<digest>/``):
where it is for a config, its JSON files written atomically, and the lock that makes it one
live process's own.

The lock is an ``flock`` on a file in the temporary directory named after the backup's path,
held from `claim` to `release` or the owner's death (SIGKILL included); it is deleted by its
owner while held, so a process that opened it meanwhile sees it gone and locks the new one."""

from __future__ import annotations

import atexit
import errno
import hashlib
import json
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

from imgexp.tracking import names

try:
    import fcntl
except ImportError:  # Windows: the pid in run.json decides alone
    fcntl = None

RUN_FILE = "run.json"
HISTORY_FILE = names.HISTORY_ARTIFACT
KERAS_DIR = "keras"
_held: dict[str, int] = {}  # lock file -> descriptor, for the backups this process owns
_PID = os.getpid()


def backup_dir(container: dict[str, Any], root: str | Path) -> Path:
    """Where a config's backup lives: the same for the same resolved config."""
    keyed = json.loads(json.dumps(container, default=str))
    keyed.get("trainer", {}).pop("resume", None)
    digest = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]
    dataset = (container.get("dataset") or {}).get("name", "data")
    model = (container.get("model") or {}).get("name", "model")
    name = re.sub(r"[^\w.-]+", "_", f"{dataset}-{model}")
    return Path(root) / "backups" / f"{name}-{digest}"


def write_json(path: Path, data: Any) -> None:
    """Atomic write: a kill leaves the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The file's JSON, or None when missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_file(directory: Path) -> Path:
    """The lock of a backup directory (outside it: nothing is written under the root before
    the run starts, and the directory is deleted and re-made while owned)."""
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"imgexp-backup-{digest}.lock"


def claim(directory: Path) -> bool:
    """Make ``directory`` this process's own until `release` or its exit; False when another
    live process owns it (or, where no lock can be taken, run.json names a live one)."""
    path = lock_file(directory)
    if str(path) in _held:
        return True  # an earlier run of this process that ended without finishing
    if fcntl is None:
        return not live_owner(directory)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return not live_owner(directory)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EAGAIN, errno.EACCES):
                return False
            return not live_owner(directory)  # a filesystem without flock
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            _held[str(path)] = fd
            return True
        os.close(fd)  # its owner deleted it as this process locked it: lock the new one


def release(directory: Path) -> None:
    """Give up a claimed directory (its lock file deleted while still held)."""
    path = lock_file(directory)
    fd = _held.pop(str(path), None)
    if fd is not None:
        path.unlink(missing_ok=True)
        os.close(fd)


def release_all() -> None:
    """At exit: the lock files of every backup this process still owns (still resumable)."""
    if os.getpid() != _PID:
        return  # a forked child: they are its parent's
    for path in list(_held):
        Path(path).unlink(missing_ok=True)
        os.close(_held.pop(path))


atexit.register(release_all)  # a run that failed in this process: its lock file goes too


def live_owner(directory: Path) -> bool:
    """Whether run.json names another live process of this host."""
    state = read_json(directory / RUN_FILE) or {}
    pid, host = state.get("pid"), state.get("host")
    return bool(pid) and pid != os.getpid() and host == socket.gethostname() and pid_alive(pid)
