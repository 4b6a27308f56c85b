"""Typed schema of the ``paths`` group (conf/paths/)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PathsConfig:
    """Typed schema of the ``paths`` group."""

    root: str = "${imgexp_home:}"
    data_dir: str | None = "${imgexp_data_dir:}"


SCHEMAS = {"base_paths": PathsConfig}
