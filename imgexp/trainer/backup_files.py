"""The files of a run's backup directory (``<root>/backups/<dataset>-<model>-<digest>/``):
where it is for a config, and its JSON files written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from imgexp.tracking import names

RUN_FILE = "run.json"
HISTORY_FILE = names.HISTORY_ARTIFACT
KERAS_DIR = "keras"


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
