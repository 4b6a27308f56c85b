"""A run's data in MLflow's own Datasets view: one dataset per split (contexts ``training``,
``validation``, ``test``) through ``mlflow.log_inputs``, with its source, a digest and its
counts, so the run page and the runs table list what each run was trained and tested on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from imgexp.tracking import names

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


def log_splits(
    name: str,
    source: str,
    digest: str,
    counts: dict[str, int],
    class_counts: dict[str, dict[str, int]],
) -> None:
    """Log every split of the active run as an MLflow input dataset."""
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
    mlflow.log_inputs(datasets, [CONTEXTS[split] for split in splits], tags)
