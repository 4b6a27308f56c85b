"""The resolved config as MLflow params: dotted keys, JSON lists, long values cut with a hash,
credential-looking keys masked."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from imgexp.tracking.secrets import MASK, is_secret_key

log = logging.getLogger(__name__)

MAX_VALUE_LENGTH = 6000  # MLflow's limit for a param value (it was 250, then 500)


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": "1", "c": "[1, 2]"}``."""
    if isinstance(tree, dict):
        flat: dict[str, str] = {}
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    key = prefix.rstrip(".")
    if is_secret_key(key):
        return {key: MASK}
    value = tree if isinstance(tree, str) else json.dumps(tree, default=str)
    return {key: fit_length(key, value)}


def fit_length(key: str, value: str) -> str:
    """Cut a value MLflow would reject; the full value stays in the config.yaml artifact."""
    if len(value) <= MAX_VALUE_LENGTH:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    log.warning(
        "param %s is %d characters long; logged truncated (sha256 %s)", key, len(value), digest
    )
    suffix = f"...[truncated, sha256:{digest}]"
    return value[: MAX_VALUE_LENGTH - len(suffix)] + suffix


def log_config(tracker: Any, container: dict[str, Any], overrides: dict[str, Any]) -> None:
    """A run's config as params and as ``config/config.yaml``, and what set it as
    ``config/overrides.yaml`` (``tracker``: a `imgexp.tracking.run.RunLogger`)."""
    from omegaconf import OmegaConf

    from imgexp.tracking import names

    tracker.log_params(flatten(container))
    tracker.log_text(OmegaConf.to_yaml(container), names.CONFIG_ARTIFACT)
    tracker.log_dict(overrides, names.OVERRIDES_ARTIFACT)
