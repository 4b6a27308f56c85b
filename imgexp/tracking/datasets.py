"""A run's data in MLflow's own Datasets view: one dataset per split (contexts ``training``,
``validation``, ``test``) through ``mlflow.log_inputs``, with its source, a digest and its
counts, so the run page and the runs table list what each run was trained and tested on."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

from imgexp.tracking import names

log = logging.getLogger(__name__)

CONTEXTS = {"train": "training", "validation": "validation", "test": "test"}


def split_digest(digest: str, split: str) -> str:
    """A split's own digest, derived from the whole dataset's content digest."""
    return hashlib.sha256(f"{digest}:{split}".encode()).hexdigest()[:8]


def dataset_source(source: str) -> Any:
    """An MLflow dataset source for a path, a URL or a loader's name."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.http_dataset_source import HTTPDatasetSource

    if source.startswith(("http://", "https://")):
        return HTTPDatasetSource(source)
    if source.startswith("/"):
        from mlflow.data.dataset_source_registry import get_registered_sources

        local = [s for s in get_registered_sources() if s.__name__ == "LocalArtifactDatasetSource"]
        if local:
            return local[0](Path(source).as_uri())
    return CodeDatasetSource({"source": source})


def split_dataset(name: str, source: str, digest: str, split: str, profile: dict) -> Any:
    """A metadata-only MLflow dataset for one split (no pixels leave the machine)."""
    from mlflow.data.meta_dataset import MetaDataset

    class SplitDataset(MetaDataset):
        @property
        def profile(self) -> dict:
            return profile

        def to_dict(self) -> dict[str, str]:
            return super().to_dict() | {"profile": json.dumps(profile)}

    return SplitDataset(dataset_source(source), name=name, digest=split_digest(digest, split))


#: MLflow registers a dataset by "look it up, insert it if missing" (sqlalchemy_store
#: ``_log_inputs_impl``), so two runs of one experiment that log the same split at the same
#: moment can both insert it; the loser's insert breaks the unique key and it retries.
RACE_MARKERS = ("unique", "duplicate key", "integrityerror", "already exists")
RACE_ATTEMPTS = 5


def is_registration_race(error: Exception) -> bool:
    """Whether an MLflow error is another run having registered the same dataset first."""
    text = str(error).lower()
    return "dataset" in text and any(marker in text for marker in RACE_MARKERS)


def log_splits(
    name: str,
    source: str,
    digest: str,
    counts: dict[str, int],
    class_counts: dict[str, dict[str, int]],
) -> int:
    """Log every split of the active run as an MLflow input dataset; the retries it took.

    A registration race with a concurrent run is retried (its dataset row exists by then, so
    the retry links to it) and said in a warning; any other error, or a race that persists,
    is raised."""
    import mlflow

    splits = [split for split in CONTEXTS if split in counts]
    datasets = [
        split_dataset(name, source, digest, split, {
            "num_examples": counts[split], "classes": class_counts.get(split, {}),
            "dataset_digest": digest, "source": source,
        })
        for split in splits
    ]  # fmt: skip
    tags = [{names.SPLIT_INPUT_TAG: split} for split in splits]
    for retries in range(RACE_ATTEMPTS):
        try:
            mlflow.log_inputs(datasets, [CONTEXTS[split] for split in splits], tags)
        except mlflow.exceptions.MlflowException as error:
            if not is_registration_race(error) or retries == RACE_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (retries + 1) + random.random() * 0.1)
            continue
        if retries:
            log.warning(
                "MLflow datasets: another run registered dataset %r at the same moment; "
                "logged after %d retr%s",
                name,
                retries,
                "y" if retries == 1 else "ies",
            )
        return retries
    raise AssertionError("unreachable")
