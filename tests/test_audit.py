"""The data audit: duplicates planted within and across splits are all found (and nothing
else), for a folder of image files and for in-memory arrays; a training run logs it; the
``imgexp audit`` command prints it without training."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import store_uri
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig
from PIL import Image

from imgexp.cli import audit_command
from imgexp.cli.closing import print_data_audit
from imgexp.config import compose_config
from imgexp.dataset.arrays import ImageArrays
from imgexp.dataset.build import build_data
from imgexp.tracking import names

# Copies planted in the folder: (original, copy), relative to the dataset root.
CROSS_COPIES = [
    ("train/a/leak_test.png", "test/a/leak_test_copy.png"),
    ("train/b/leak_val.png", "val/b/leak_val_copy.png"),
    ("val/a/cross.png", "test/b/cross_copy.png"),  # filed under another class, too
    ("train/a/everywhere.png", "val/a/everywhere.png"),
    ("train/a/everywhere.png", "test/a/everywhere.png"),
]
WITHIN_COPIES = [
    ("train/a/dup.png", "train/b/dup_other_class.png"),
    ("train/b/twin1.jpg", "train/b/twin2.jpg"),
    ("test/b/x.png", "test/b/x_again.png"),
]
EXPECTED_PAIRS = {
    "train-validation": {
        ("train/b/leak_val.png", "val/b/leak_val_copy.png"),
        ("train/a/everywhere.png", "val/a/everywhere.png"),
    },
    "train-test": {
        ("train/a/leak_test.png", "test/a/leak_test_copy.png"),
        ("train/a/everywhere.png", "test/a/everywhere.png"),
    },
    "validation-test": {
        ("val/a/cross.png", "test/b/cross_copy.png"),
        ("val/a/everywhere.png", "test/a/everywhere.png"),
    },
}


def write_image(path: Path, seed: int, mode: str = "RGB") -> None:
    """A distinct noise image (its own seed, its own size)."""
    rng = np.random.default_rng(seed)
    shape = (12 + 4 * (seed % 3), 16) + ((3,) if mode == "RGB" else ())
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


@pytest.fixture
def planted_folder(tmp_path: Path) -> Path:
    """train/val/test x classes a, b, with the copies above, a corrupt file and a note."""
    root = tmp_path / "planted"
    originals = {original for original, _ in CROSS_COPIES + WITHIN_COPIES}
    distinct = ["train/a/t0.png", "train/a/t1.png", "train/b/t2.png", "val/b/gray.png"]
    for seed, name in enumerate(sorted(originals) + distinct):
        write_image(root / name, seed, "L" if "gray" in name else "RGB")
    for original, copy in CROSS_COPIES + WITHIN_COPIES:
        (root / copy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / original, root / copy)
    (root / "train/a/broken.png").write_bytes(b"not an image at all")
    (root / "train/a/notes.txt").write_text("ignored")
    return root


def folder_config(root: Path, *overrides: str) -> DictConfig:
    return compose_config(
        "dataset=image_folder", f"dataset.data_dir={root}", "dataset.image_size=[16,16]",
        "dataset.validation.source=dir", *overrides,
    )  # fmt: skip


def found_pairs(audit: dict, root: str) -> dict[str, set[tuple[str, str]]]:
    """Every listed cross-split pair, as paths relative to the root."""
    pairs = {}
    for name, found in audit["overlaps"].items():
        a, b = name.split("-")
        assert found["not_listed"] == 0 and found["count"] == len(found["pairs"])
        pairs[name] = {
            (str(Path(p[a]).relative_to(root)), str(Path(p[b]).relative_to(root)))
            for p in found["pairs"]
        }
    return pairs


def test_every_planted_duplicate_in_a_folder_is_found_and_nothing_else(
    planted_folder: Path,
) -> None:
    data = build_data(folder_config(planted_folder).dataset, 4, 0)
    audit = data.audit
    assert found_pairs(audit, data.source) == EXPECTED_PAIRS
    assert audit["overlap_pairs"] == 6
    assert audit["overlaps"]["train-test"]["train_images"] == 2
    groups = {
        split: {tuple(sorted(str(Path(p).relative_to(data.source)) for p in g["images"]))
                for g in found["listed"]}
        for split, found in audit["duplicates"].items()
    }  # fmt: skip
    assert groups == {
        "train": {("train/a/dup.png", "train/b/dup_other_class.png"),
                  ("train/b/twin1.jpg", "train/b/twin2.jpg")},
        "validation": set(),
        "test": {("test/b/x.png", "test/b/x_again.png")},
    }  # fmt: skip
    assert audit["duplicate_copies"] == 3
    assert audit["duplicates"]["train"]["conflicting_labels"] == 1
    assert audit["splits"] == {"train": 10, "validation": 4, "test": 5}
    assert audit["class_counts"]["test"] == {"a": 2, "b": 3}
    assert audit["imbalance"]["test"]["ratio"] == 1.5
    assert audit["skipped_files"] == 1 and audit["skipped"][0]["path"].endswith("broken.png")
    assert audit["skipped_reasons"] == {"not an image (no known image format)": 1}
    assert audit["ignored_files"] == 1
    images = audit["images"]
    assert images["formats"] == {"PNG": 17, "JPEG": 2}
    assert images["modes"] == {"RGB": 18, "L": 1}
    assert images["modes_read_from"] == "the scan of all 19 files"
    assert sum(images["sizes"].values()) == 19 and set(images["sizes"]) <= {
        "12x16", "16x16", "20x16"
    }  # fmt: skip
    json.dumps(audit)  # the artifact as it is logged


def planted_arrays(cfg: DictConfig) -> ImageArrays:
    """Digits-like arrays with copies planted at known indices (a loader for ``_target_``)."""
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (40, 8, 8), dtype=np.uint8)
    x_test = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8)
    x_test[2] = x_train[1]  # validation (x_train[0..3], take=first) <-> test
    x_test[3] = x_train[7]  # train <-> test
    x_train[20] = x_train[0]  # train <-> validation
    x_train[12] = x_train[9]  # within train
    x_test[6] = x_test[5]  # within test
    labels_train, labels_test = np.arange(40) % 10, np.arange(10) % 10
    return ImageArrays(x_train, labels_train, [str(k) for k in range(10)], "planted",
                       x_test, labels_test)  # fmt: skip


ARRAY_OVERRIDES = (
    "dataset=digits", "dataset._target_=test_audit.planted_arrays",
    "dataset.validation.take=first", "dataset.validation.size=4",
)  # fmt: skip


def test_every_planted_duplicate_in_arrays_is_found_by_index() -> None:
    audit = build_data(compose_config(*ARRAY_OVERRIDES).dataset, 4, 0).audit
    pairs = {
        name: {(p[name.split("-")[0]], p[name.split("-")[1]]) for p in found["pairs"]}
        for name, found in audit["overlaps"].items()
    }
    assert pairs == {
        "train-validation": {("x_train[20]", "x_train[0]")},
        "train-test": {("x_train[7]", "x_test[3]")},
        "validation-test": {("x_train[1]", "x_test[2]")},
    }
    within = {split: [g["images"] for g in found["listed"]]
              for split, found in audit["duplicates"].items()}  # fmt: skip
    assert within == {"train": [["x_train[9]", "x_train[12]"]], "validation": [],
                      "test": [["x_test[5]", "x_test[6]"]]}  # fmt: skip
    assert audit["images"] == {"kind": "arrays", "shapes": {"8x8x1": 50}, "dtype": "uint8"}


def test_validation_that_is_the_test_split_is_not_an_overlap() -> None:
    cfg = compose_config(*ARRAY_OVERRIDES, "dataset.validation.source=test")
    audit = build_data(cfg.dataset, 4, 0).audit
    assert audit["validation_is_test"] and list(audit["overlaps"]) == ["train-test"]
    # x_train[1] and [7] are both training images now: two train<->test pairs.
    assert audit["overlap_pairs"] == 2


def test_array_images_keep_their_loader_index_through_a_class_subset() -> None:
    cfg = compose_config(*ARRAY_OVERRIDES, "dataset.classes=['0','1','7']")
    audit = build_data(cfg.dataset, 4, 0).audit
    # Rows 0, 1, 7, 10 validate; x_train[20] (class 0) is x_train[0]; the others' copies left.
    assert audit["overlaps"]["train-validation"]["pairs"] == [
        {"train": "x_train[20]", "validation": "x_train[0]", "classes": ["0", "0"]}
    ]
    assert audit["overlap_pairs"] == 1 and audit["duplicate_copies"] == 0


def test_a_training_run_logs_the_audit_and_its_closing_line_says_it(
    isolated_home: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    import imgexp

    with caplog.at_level(logging.WARNING):
        result = imgexp.train(
            *ARRAY_OVERRIDES,
            "model.hidden_units=[8]",
            "trainer.epochs=1",
            "trainer.verbose=0",
            "tracking.log_model=false",
        )
    leak = [r.getMessage() for r in caplog.records if "DATA LEAK" in r.getMessage()]
    assert len(leak) == 1 and "x_train[7]  ==  x_test[3]" in leak[0]
    uri = store_uri(isolated_home)
    client = MlflowClient(uri)
    tags = client.get_run(result.run_id).data.tags
    assert tags[names.DATA_OVERLAP_TAG] == "3" and tags[names.DATA_DUPLICATES_TAG] == "2"
    logged = {f.path for f in client.list_artifacts(result.run_id)}
    logged |= {f.path for f in client.list_artifacts(result.run_id, "plots")}
    assert {names.DATA_AUDIT_ARTIFACT, names.DATA_AUDIT_PNG} <= logged
    audit = json.loads(
        Path(client.download_artifacts(result.run_id, names.DATA_AUDIT_ARTIFACT)).read_text()
    )
    assert audit["overlaps"]["train-test"]["pairs"][0]["test"] == "x_test[3]"
    print_data_audit(result.run_id, uri)
    assert capsys.readouterr().out == (
        "data audit:    3 cross-split duplicate pairs, 2 duplicates within splits "
        "(data_audit.json)\n"
    )


def test_the_audit_command_prints_the_overlaps_and_strict_fails(
    planted_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    output = tmp_path / "audit-out"
    argv = [
        "dataset=image_folder", f"dataset.data_dir={planted_folder}",
        "dataset.image_size=[16,16]", "dataset.validation.source=dir",
        "--output", str(output), "--strict", "--show", "1",
    ]  # fmt: skip
    assert audit_command.main(argv) == audit_command.EXIT_OVERLAP
    out = capsys.readouterr().out
    assert "data audit: 6 cross-split duplicate pairs, 3 duplicates within splits" in out
    assert "train-test: 2 identical pairs (2 train images, 2 test images)" in out
    assert "\n  train/a/everywhere.png  ==  test/a/everywhere.png\n" in out
    assert "... and 1 more (all in data_audit.json)" in out
    assert "skipped files: 1 (not an image (no known image format) 1)" in out
    written = json.loads((output / "data_audit.json").read_text())
    assert written["overlap_pairs"] == 6
    assert (output / "data_audit.png").stat().st_size > 0


def test_the_audit_command_without_overlaps_passes_strict_and_a_bad_override_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert audit_command.main(["dataset=digits", "--strict", "--output", str(tmp_path)]) == 0
    assert "data audit: 0 cross-split duplicate pairs" in capsys.readouterr().out
    assert audit_command.main(["dataset=no_such_dataset"]) == 2
    assert "imgexp audit: error:" in capsys.readouterr().err


def test_modes_come_from_the_scan_and_an_older_scan_s_files_are_read_again(
    tmp_path: Path,
) -> None:
    """The scan's recorded modes are used as they are; a table without them (scanned by an
    older imgexp) has its files' headers read."""
    from imgexp.dataset.audit import image_facts
    from imgexp.dataset.files import FileTable

    paths = []
    for index, mode in enumerate(["RGB", "L", "L"]):
        path = tmp_path / f"{index}.png"
        Image.new(mode, (4, 4)).save(path)
        paths.append(str(path))
    fields = dict(labels=[0, 0, 1], formats=["PNG"] * 3, sizes=[(4, 4)] * 3, hashes=["h"] * 3)
    recorded = FileTable(paths=paths, modes=["P", "P", "RGBA"], **fields)  # not the files'
    facts = image_facts([recorded])
    assert facts["modes"] == {"P": 2, "RGBA": 1}
    assert facts["modes_read_from"] == "the scan of all 3 files"
    older = FileTable(paths=paths, **fields)
    facts = image_facts([older])
    assert facts["modes"] == {"L": 2, "RGB": 1} and facts["modes_read_from"] == "all 3 files"
