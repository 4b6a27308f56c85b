"""k-fold cross-validation (``dataset.cv``) and in-job repeats (``trainer.repeats``): the folds
of the training split are disjoint, cover it and never touch the test split (in-memory arrays
and image folders), and one job trains its members as nested runs whose mean, std and n land on
the job's own run and become its objective."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient
from test_dataset_folders import file_ids, make_classes

import imgexp
from imgexp.api import compose_config
from imgexp.dataset import splits
from imgexp.dataset.build import ArrayTable, build_data
from imgexp.groups import members as group_members

TINY = ("dataset=digits", "model.hidden_units=[16]", "trainer.epochs=2", "trainer.verbose=0",
        "tracking.log_model=false")  # fmt: skip


def assert_folds_partition(train: list[list[int]], validation: list[list[int]],
                           test: list[list[int]]) -> None:  # fmt: skip
    """Each member trains on the rest of the training split; the validation folds are
    disjoint, together cover the training split, and the test split is the same for all."""
    training_split = set(train[0]) | set(validation[0])
    assert all(t == test[0] for t in test) and not training_split & set(test[0])
    for kept, held in zip(train, validation, strict=True):
        assert not set(kept) & set(held) and set(kept) | set(held) == training_split
    assert sum(len(held) for held in validation) == len(training_split)
    assert set().union(*map(set, validation)) == training_split


def test_three_folds_of_arrays_are_disjoint_stratified_and_cover_the_training_split() -> None:
    cfg = compose_config("dataset=digits", "dataset.cv.folds=3").dataset
    labels = np.arange(300) % 3
    tables = []
    for fold in range(3):
        cfg.cv.fold = fold
        # Images are the example ids, so the split says exactly which examples went where.
        tables.append(splits.split_tables(cfg, ArrayTable(np.arange(300), labels), None))
    ids = {s: [t[s].images.tolist() for t in tables] for s in ("train", "validation", "test")}
    assert_folds_partition(ids["train"], ids["validation"], ids["test"])
    assert len(ids["test"][0]) == 60  # dataset.test_size=0.2 is held out before the folds
    for table in tables:  # stratified: each class's 80 training examples split 27/27/26
        assert set(np.bincount(table["validation"].labels).tolist()) <= {26, 27}


def test_each_fold_of_digits_has_its_own_digest_and_the_same_test_split() -> None:
    bundles = [build_data(compose_config("dataset=digits", "dataset.cv.folds=3",
                                         f"dataset.cv.fold={k}").dataset, 64, seed=0)
               for k in range(3)]  # fmt: skip
    assert len({b.digest for b in bundles}) == 3
    assert {b.counts["test"] for b in bundles} == {round(0.2 * 1797)}
    assert (
        sum(b.counts["validation"] for b in bundles)
        == bundles[0].counts["train"] + (bundles[0].counts["validation"])
    )


def test_three_folds_of_an_image_folder_are_disjoint_and_cover_the_training_split(
    tmp_path: Path,
) -> None:
    make_classes(tmp_path / "data", {"a_cats": 18, "b_dogs": 12})
    ids: dict[str, list[list[int]]] = {"train": [], "validation": [], "test": []}
    for fold in range(3):
        bundle = build_data(compose_config(
            "dataset=image_folder", f"dataset.data_dir={tmp_path / 'data'}",
            "dataset.image_size=[8,8]", "dataset.cv.folds=3", f"dataset.cv.fold={fold}",
        ).dataset, 64, seed=0)  # fmt: skip
        for split in ids:
            ids[split].append(sorted(file_ids(getattr(bundle, split))))
    assert_folds_partition(ids["train"], ids["validation"], ids["test"])
    assert sorted(ids["train"][0] + ids["validation"][0] + ids["test"][0]) == list(range(30))


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["dataset.cv.folds=-2"], "dataset.cv.folds=-2"),
        (["trainer.repeats=0"], "trainer.repeats=0"),
        (["dataset.cv.fold=1"], "dataset.cv.fold=1 needs dataset.cv.folds=k >= 2"),
        (["dataset.cv.folds=3", "dataset.cv.fold=3"], r"a fold in 0..k-1 \(dataset.cv.folds=3"),
    ],
)
def test_bad_group_settings_fail_before_training(overrides: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        group_members.members(compose_config(*overrides))


def test_more_folds_than_examples_of_a_class_is_named() -> None:
    with pytest.raises(ValueError, match=r"classes \[1\] have fewer than 5"):
        splits.fold_indices(np.array([0] * 10 + [1] * 3), folds=5, fold=0, seed=0)


def test_members_of_folds_times_repeats() -> None:
    plan = group_members.members(compose_config("dataset.cv.folds=2", "trainer.repeats=2",
                                           "trainer.seed=7"))  # fmt: skip
    assert [(m.fold, m.seed) for m in plan] == [(0, 7), (0, 8), (1, 7), (1, 8)]
    assert group_members.members(compose_config("trainer.repeats=1")) == []  # a single run


@pytest.mark.slow
def test_one_job_trains_folds_x_seeds_as_nested_runs_and_logs_mean_std(
    isolated_home: Path,
) -> None:
    result = imgexp.train(*TINY, "dataset.cv.folds=2", "trainer.repeats=2", "trainer.seed=3")
    client = MlflowClient(store_uri(isolated_home))
    group = client.get_run(result.run_id)
    assert group.info.status == "FINISHED"
    assert group.data.tags["imgexp.role"] == "group"
    assert group.data.tags["imgexp.group.over"] == "folds x seeds"
    members = [client.get_run(m.run_id) for m in result.members]
    plan = [(m.data.params["dataset.cv.fold"], m.data.params["trainer.seed"]) for m in members]
    assert plan == [("0", "3"), ("0", "4"), ("1", "3"), ("1", "4")]
    for member in members:
        assert member.data.tags["mlflow.parentRunId"] == result.run_id
        assert member.data.tags["imgexp.role"] == "member"
        assert member.data.params["trainer.repeats"] == "1"
    # Same fold, same split (digest); another fold, another split.
    digests = [m.data.tags["dataset.digest"] for m in members]
    assert digests[0] == digests[1] != digests[2] == digests[3]
    for metric in ("val_accuracy", "test_accuracy", "val_loss"):
        values = [m.data.metrics[metric] for m in members]
        assert group.data.metrics[f"{metric}_mean"] == pytest.approx(np.mean(values), abs=1e-12)
        assert group.data.metrics[f"{metric}_std"] == pytest.approx(np.std(values), abs=1e-12)
        assert group.data.metrics[metric] == group.data.metrics[f"{metric}_mean"]
    assert group.data.metrics["n"] == 4
    # A sweeper (Optuna) gets the mean over the members as the job's objective.
    assert result.objective("val_accuracy") == group.data.metrics["val_accuracy_mean"]
    artifacts = [a.path for a in client.list_artifacts(result.run_id, "plots")]
    assert "plots/group_curves.png" in artifacts
    assert client.list_artifacts(result.run_id, "config")  # `imgexp rerun <group>` works
