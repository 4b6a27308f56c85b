"""The sweep report: written onto the parent at the end of a multirun (Markdown, CSV, curves
PNG, printed), with a deliberately failed child listed with its error, and ``imgexp report``
printing the same table again for the past sweep; bad targets fail naming them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from helpers import run_cli, store_uri
from mlflow.tracking import MlflowClient

from imgexp.cli.report_command import main as report_main
from imgexp.tracking import names

pytestmark = pytest.mark.slow  # every test reads the sweep that `failed_sweep` runs with the CLI
TINY = ("dataset=digits", "model.hidden_units=[16]", "trainer.epochs=2", "trainer.verbose=0",
        "tracking.log_model=false")  # fmt: skip


@pytest.fixture(scope="module")
def failed_sweep(tmp_path_factory: pytest.TempPathFactory):
    """A two-job sweep whose second job asks for a class that does not exist:
    ``(home, cli result, parent run)``."""
    home = tmp_path_factory.mktemp("report") / "home"
    out = run_cli("-m", *TINY, "dataset.classes=[0,1],[nope]", home=home, check=False)
    client = MlflowClient(store_uri(home))
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (parent,) = [r for r in runs if r.data.tags.get("imgexp.role") == "sweep"]
    return home, out, parent


def artifact_text(home: Path, run_id: str, path: str, tmp_path: Path) -> str:
    local = MlflowClient(store_uri(home)).download_artifacts(run_id, path, str(tmp_path))
    return Path(local).read_text()


def test_report_lists_the_failed_child_with_its_error(failed_sweep, tmp_path: Path) -> None:
    home, out, parent = failed_sweep
    assert out.returncode != 0  # Hydra's basic launcher reports the failed job at the end
    markdown = artifact_text(home, parent.info.run_id, names.SWEEP_REPORT_MD, tmp_path)
    assert markdown in out.stdout  # printed to the terminal as logged
    assert "### Failed (1)" in markdown
    assert "- FAILED `dataset.classes=[nope]`" in markdown
    assert "dataset.classes: ['nope'] not found; available classes" in markdown
    rows = list(csv.DictReader(io.StringIO(
        artifact_text(home, parent.info.run_id, names.SWEEP_REPORT_CSV, tmp_path))))  # fmt: skip
    assert [row["status"] for row in rows] == ["FINISHED", "FAILED"]  # best first, failed last
    assert "dataset.classes=[0,1]" in rows[0]["overrides"] and not rows[0]["error"]
    client = MlflowClient(store_uri(home))
    finished = client.get_run(rows[0]["run_id"])  # the row holds that run's own numbers
    assert float(rows[0]["val_accuracy"]) == finished.data.metrics["val_accuracy"]
    wall_s = (finished.info.end_time - finished.info.start_time) / 1000
    assert float(rows[0]["wall_s"]) == pytest.approx(wall_s, abs=1e-3)
    assert rows[1]["val_accuracy"] == "" and "nope" in rows[1]["error"]
    assert "plots/sweep_curves.png" in [
        a.path for a in client.list_artifacts(parent.info.run_id, "plots")
    ]


def test_imgexp_report_prints_the_same_table_for_a_past_sweep(
    failed_sweep, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    home, _, parent = failed_sweep
    logged = artifact_text(home, parent.info.run_id, names.SWEEP_REPORT_MD, tmp_path)
    uri = store_uri(home)
    for target in ("imgexp", parent.info.run_id):  # experiment name (its latest sweep), or id
        assert report_main([target, "--tracking-uri", uri]) == 0
        assert capsys.readouterr().out == logged
    assert report_main([parent.info.run_id, "--tracking-uri", uri, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("rank,run_id,run_name,status")
    # The real console script dispatches the subcommand.
    out = run_cli("report", parent.info.run_id, home=home).stdout
    assert out == logged


def test_bad_targets_fail_naming_them(
    failed_sweep, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    home, _, parent = failed_sweep
    uri = store_uri(home)
    child = MlflowClient(uri).search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )[0]
    cases = {
        ("nope", uri): f"no experiment or run named 'nope' in {uri}; experiments: ",
        (child.info.run_id, uri): f"run {child.info.run_id} in {uri} has no child runs",
        ("imgexp", f"sqlite:///{tmp_path}/none.db"): f"no MLflow store at sqlite:///{tmp_path}",
        ("imgexp", "http://127.0.0.1:9"): "MLflow tracking server http://127.0.0.1:9 does not",
    }
    for (target, store), message in cases.items():
        with pytest.raises(SystemExit) as exit_info:
            report_main([target, "--tracking-uri", store])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
