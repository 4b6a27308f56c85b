"""Where imgexp keeps its MLflow store, artifacts and Hydra outputs.

One absolute place for every run, whatever the working directory, so that all runs meet in one
MLflow UI: ``$IMGEXP_HOME`` if set, else ``~/.imgexp``.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "IMGEXP_HOME"
DATA_ENV = "IMGEXP_DATA_DIR"


def imgexp_home() -> str:
    """Absolute imgexp home directory (not created here)."""
    return str(Path(os.environ.get(HOME_ENV) or "~/.imgexp").expanduser().resolve())


def data_home() -> str | None:
    """Machine-wide data directory from ``$IMGEXP_DATA_DIR``, if set."""
    value = os.environ.get(DATA_ENV)
    return str(Path(value).expanduser().resolve()) if value else None
