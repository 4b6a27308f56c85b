"""``imgexp rerun <run_id> [overrides...]``: train again from the exact config a run logged.

The config comes from the run's ``config/config.yaml`` artifact (not from today's ``conf/``).
It becomes the primary config of the same Hydra composition as ``imgexp`` itself, so every
override training accepts applies on top (``tracking.*``, ``hydra.*``, ``+key=``, ``-m`` sweeps;
unknown keys are rejected). The run is looked for in the store that ``--tracking-uri``, a
``tracking.uri=`` override or ``$MLFLOW_TRACKING_URI`` names (else imgexp's default store), and
the new run goes to that store too; differences in package versions and in the dataset digest
are warned about, and the new run is tagged ``imgexp.rerun_of=<run_id>``.

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
from imgexp.job import JobInfo, TrainResult, plain_config
from imgexp.paths.home import imgexp_home
from imgexp.tracking import names
from imgexp.tracking.env import RERUN_DIGEST_ENV, RERUN_OF_ENV, RERUN_PRESET_ENV
from imgexp.tracking.uri import tracking_uri

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


PRIMARY = "rerun"  # the logged config's name as a primary config


def source_store(explicit: str | None, overrides: list[str]) -> str:
    """Where the run to rerun is (and where the rerun goes): ``--tracking-uri``, else the last
    ``tracking.uri=`` override, else ``$MLFLOW_TRACKING_URI``, else imgexp's default store."""
    named = [o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith("tracking.uri=")]
    return tracking_uri(explicit or (named[-1] if named else None))


def write_primary(source: RerunSource, store: str, directory: Path) -> Path:
    """The logged config as ``<directory>/rerun.yaml``, composed like conf/config.yaml (the same
    Hydra settings and callbacks); its run goes to ``store`` and its outputs under this
    machine's imgexp home, not the original machine's."""
    plain = OmegaConf.to_container(source.config, resolve=False, enum_to_str=True)
    plain["tracking"]["uri"] = store
    plain.setdefault("paths", {})["root"] = imgexp_home()
    primary = {"defaults": ["base_config", {"hydra": "default"}, "_self_"], **plain}
    path = directory / f"{PRIMARY}.yaml"
    comment = f"# run {source.run_id} of {store}, checked by imgexp/rerun.py\n"
    path.write_text(comment + yaml.safe_dump(primary, sort_keys=False))
    return path


def checked_config(cfg: DictConfig, what: str) -> DictConfig:
    """A composed rerun config (overrides on), typed by the schemas again, range-checked and
    its ``_target_``s allowlisted; without Hydra's node."""
    typed = check_config(schemas.structured(plain_config(cfg)))
    targets.check_targets(typed, what)
    return typed


def compose_rerun(
    run_id: str, overrides: list[str], uri: str | None = None
) -> tuple[DictConfig, JobInfo, RerunSource]:
    """(checked config, `JobInfo`, the original run) of a rerun, composed in this process."""
    from hydra.errors import HydraException

    store = source_store(uri, overrides)
    source = fetch(run_id, store)
    with tempfile.TemporaryDirectory() as directory:
        write_primary(source, store, Path(directory))
        try:
            cfg = schemas.compose_config(*overrides, config_dir=directory, config_name=PRIMARY)
        except (HydraException, OmegaConfBaseException) as error:
            reason = str(error).splitlines()[0]
            raise RerunError(f"overrides {overrides} on run {run_id}: {reason}") from error
    what = f"the rerun of {run_id} with {overrides or 'no overrides'}"
    job = JobInfo(
        overrides=list(overrides),
        preset=source.tags.get(names.PRESET_TAG) or None,
        rerun_of=run_id,
        expected_digest=source.expected_digest,
    )
    return checked_config(cfg, what), job, source


def rerun_environment(source: RerunSource) -> dict[str, str]:
    """What every job of a rerun launched through the Hydra app needs to know about it."""
    return {
        RERUN_OF_ENV: source.run_id,
        RERUN_PRESET_ENV: source.tags.get(names.PRESET_TAG) or "",
        RERUN_DIGEST_ENV: source.expected_digest or "",
    }


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


def warn_versions(source: RerunSource) -> None:
    """Log a warning per package whose version differs from the original run's."""
    for message in version_warnings(source.tags):
        log.warning("rerun of %s: %s", source.run_id, message)


def rerun(run_id: str, overrides: list[str], uri: str | None = None) -> TrainResult:
    """Rebuild run ``run_id``'s config, apply ``overrides`` and train it into a new run."""
    cfg, job, source = compose_rerun(run_id, overrides, uri)
    from imgexp.runner import run

    warn_versions(source)
    return run(cfg, job)
