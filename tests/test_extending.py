"""docs/extending.md's worked example, run for real: the page's marked code blocks (a dataset
loader, a model builder, a callback that logs an artifact, their YAML, a preset and the demo
data script) are written to a tmp directory, put on the import path and trained for one epoch
through ``imgexp.train(..., config_dir=...)``, so the page and the code cannot drift apart."""

from __future__ import annotations

import json
import math
import re
import runpy
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
# A block of the worked example: a `<!-- file: <relative path> -->` line right above its fence.
MARKED_BLOCK = re.compile(r"^<!-- file: (\S+) -->\n```[a-z]*\n(.*?)^```$", re.DOTALL | re.M)
EXAMPLE_FILES = {
    "my_datasets.py",
    "my_models.py",
    "my_callbacks.py",
    "make_demo_npz.py",
    "my_conf/dataset/npz.yaml",
    "my_conf/model/tiny_cnn.yaml",
    "my_conf/experiment/npz_tiny.yaml",
}
MODULES = ("my_datasets", "my_models", "my_callbacks")


def doc_files() -> dict[str, str]:
    """The marked blocks of docs/extending.md: relative path -> file text."""
    return dict(MARKED_BLOCK.findall(DOC.read_text()))


@pytest.fixture
def example_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The worked example written out, importable, and the working directory."""
    for relative, text in doc_files().items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in MODULES:  # the next test imports its own copy
        sys.modules.pop(name, None)


def test_the_doc_marks_every_file_of_the_example() -> None:
    assert set(doc_files()) == EXAMPLE_FILES


def test_the_worked_example_trains_and_logs_its_artifact(
    example_dir: Path, isolated_home: Path
) -> None:
    import mlflow

    import imgexp

    runpy.run_path("make_demo_npz.py", run_name="__main__")
    result = imgexp.train(
        "experiment=npz_tiny",
        "trainer.epochs=1",
        "dataset.data_dir=my_data",
        "tracking.log_model=false",  # seconds saved; the model logging is not what is tested
        config_dir=example_dir / "my_conf",
    )

    for name in ("loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"):
        assert math.isfinite(result.metrics[name]), name
    assert result.model.get_layer("logits").units == 3
    client = mlflow.MlflowClient(f"sqlite:///{isolated_home}/mlflow.db")
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "npz_tiny"
    assert run.data.params["dataset._target_"] == "my_datasets.load_npz"
    assert run.data.params["model._target_"] == "my_models.tiny_cnn"
    # The file's own test split (537 - 430 images), not a held-out fraction.
    assert run.data.tags["dataset.n_test"] == "107"
    assert run.data.tags["imgexp.preset"] == "npz_tiny"
    logged = client.download_artifacts(result.run_id, "epoch_times.json", str(example_dir))
    seconds = json.loads(Path(logged).read_text())["seconds"]
    assert len(seconds) == 1 and seconds[0] > 0
