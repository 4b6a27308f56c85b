"""``imgexp rerun <run_id> [overrides...]``: train again from the exact config a run logged.

The config comes from the run's ``config/config.yaml`` artifact (not from today's ``conf/``),
overrides apply on top (unknown keys are rejected), differences in package versions and in the
dataset digest are warned about, and the new run is tagged ``imgexp.rerun_of=<run_id>``.

The artifact is untrusted input (anyone who can write to the store could have written it), so
before anything of it is used: every ``_target_`` must be on imgexp's allowlist
(imgexp/targets.py; your own modules via ``$IMGEXP_ALLOWED_TARGETS``), no value may be an
interpolation (``${oc.env:...}`` would read this machine's environment), and the config goes
through the same schemas and range checks as a composed one."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from imgexp import config as schemas
from imgexp import targets
from imgexp.config_checks import check_config
from imgexp.errors import ConfigError, UserError
from imgexp.job import JobInfo, TrainResult
from imgexp.tracking import names
from imgexp.tracking.uri import default_tracking_uri

log = logging.getLogger(__name__)

CONFIG_ARTIFACT = names.CONFIG_ARTIFACT


class RerunError(UserError, RuntimeError):
    """The run cannot be rebuilt (unknown id, no config, unreachable store)."""


@dataclass
class RerunSource:
    """What a rerun needs from the original run."""

    run_id: str
    config: DictConfig
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def expected_digest(self) -> str | None:
        """The dataset digest the original run saw."""
        return self.tags.get(names.DATASET_DIGEST_TAG)


def fetch(run_id: str, uri: str) -> RerunSource:
    """Load the run's logged config and tags; fail clearly before any training."""
    from mlflow.exceptions import MlflowException

    from imgexp.tracking import store

    try:
        client = store.existing_client(uri)
    except store.TrackingStoreError as error:
        raise RerunError(str(error)) from error
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise RerunError(f"run {run_id!r} was not found in {uri}: {error.message}") from error
    except Exception as error:  # noqa: BLE001 - unreachable server, bad URI, ...
        raise RerunError(f"cannot reach the MLflow store {uri}: {error}") from error
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, CONFIG_ARTIFACT, tmp)
        except Exception as error:  # noqa: BLE001 - missing artifact
            raise RerunError(
                f"run {run_id} has no {CONFIG_ARTIFACT} artifact (logged by another tool or an "
                "older imgexp?), so its exact config cannot be rebuilt"
            ) from error
        raw = yaml.safe_load(Path(path).read_text())
    config = logged_config(raw, f"run {run_id}'s {CONFIG_ARTIFACT}")
    return RerunSource(run_id=run_id, config=config, tags=dict(run.data.tags))


def interpolations(tree: Any, prefix: str = "") -> list[str]:
    """The keys of every string value holding an OmegaConf interpolation (``${...}``)."""
    if isinstance(tree, dict):
        return [k for key, v in tree.items() for k in interpolations(v, f"{prefix}{key}.")]
    if isinstance(tree, list):
        return [k for i, v in enumerate(tree) for k in interpolations(v, f"{prefix}{i}.")]
    return [prefix.rstrip(".")] if isinstance(tree, str) and "${" in tree else []


def legacy_sizes(raw: dict[str, Any]) -> None:
    """Split sizes logged as floats (``3000.0``, before counts and fractions were told apart)
    become the counts they meant."""
    dataset = raw.get("dataset") if isinstance(raw.get("dataset"), dict) else {}
    for node, key in ((dataset, "test_size"), (dataset.get("validation") or {}, "size")):
        value = node.get(key) if isinstance(node, dict) else None
        if isinstance(value, float) and value >= 1 and value.is_integer():
            node[key] = int(value)


def logged_config(raw: Any, source: str) -> DictConfig:
    """A logged config, checked as untrusted input (module docstring) and typed by the
    schemas; ranges are checked once the overrides are on (`rerun`)."""
    if not isinstance(raw, dict):
        raise RerunError(f"{source} is not a mapping of config groups")
    targets.check_targets(raw, source)  # before anything in it is imported
    found = interpolations(raw)
    if found:
        raise ConfigError(
            f"{source} holds interpolations, which a logged (resolved) config never does: "
            + ", ".join(found)
        )
    legacy_sizes(raw)
    return schemas.structured(raw)


def apply_overrides(config: DictConfig, overrides: list[str]) -> DictConfig:
    """``key=value`` overrides on top of a logged config; unknown keys are errors."""
    OmegaConf.set_struct(config, True)
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep:
            raise RerunError(f"override {override!r} is not of the form key=value")
        if OmegaConf.select(config, key, default=KeyError) is KeyError:
            raise RerunError(f"override {override!r}: the logged config has no key {key!r}")
        try:
            OmegaConf.update(config, key, yaml.safe_load(value), merge=False)
        except OmegaConfBaseException as error:
            raise RerunError(f"override {override!r}: {str(error).splitlines()[0]}") from error
    return config


def version_warnings(tags: dict[str, str]) -> list[str]:
    """One message per package whose version differs from the original run's."""
    import keras
    import tensorflow as tf

    current = {"versions.tensorflow": tf.__version__, "versions.keras": keras.__version__}
    return [
        f"{key.removeprefix('versions.')} is {now}, the original run used {tags[key]}"
        for key, now in current.items()
        if key in tags and tags[key] != now
    ]


def rerun(run_id: str, overrides: list[str], uri: str | None = None) -> TrainResult:
    """Rebuild run ``run_id``'s config, apply ``overrides`` and train it into a new run."""
    source = fetch(run_id, uri or default_tracking_uri())
    config = check_config(apply_overrides(source.config, overrides))
    targets.check_targets(config, f"the rerun of {run_id} with {overrides or 'no overrides'}")
    from imgexp.runner import run

    for message in version_warnings(source.tags):
        log.warning("rerun of %s: %s", run_id, message)
    job = JobInfo(
        overrides=list(overrides),
        preset=source.tags.get(names.PRESET_TAG) or None,
        rerun_of=run_id,
        expected_digest=source.expected_digest,
    )
    return run(config, job)
