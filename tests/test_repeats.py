"""Repeated seeds in a multirun: the sweep's parent aggregates the children that differ only in
``trainer.seed``/``dataset.cv.fold`` (one group per other combination) into ``<metric>_mean``,
``<metric>_std`` (np.std, ddof=0) and ``n``, with a ±1 std band plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli, store_uri
from mlflow.entities import Param
from mlflow.tracking import MlflowClient

from imgexp.groups import aggregate, history
from imgexp.groups.summary import children
from imgexp.tracking.names import GROUP_CURVES_PNG

TINY = ("dataset=digits", "model.hidden_units=[16]", "trainer.epochs=2", "trainer.verbose=0",
        "tracking.log_model=false")  # fmt: skip


def test_aggregate_is_numpy_mean_and_population_std_of_common_metrics() -> None:
    finals = [
        {"val_accuracy": 0.5, "loss": 1.0, "n": 9.0, "val_accuracy_std": 3.0},
        {"val_accuracy": 0.7, "loss": 2.0},
        {"val_accuracy": 0.9, "loss": 4.0, "x": 1.0},
    ]
    stats = aggregate.aggregate(finals)  # fmt: skip
    assert stats.n == 3 and sorted(stats.mean) == ["loss", "val_accuracy"]  # common, not derived
    assert stats.mean["val_accuracy"] == pytest.approx(np.mean([0.5, 0.7, 0.9]))
    assert stats.std["loss"] == pytest.approx(np.std([1.0, 2.0, 4.0]))  # ddof=0
    assert stats.cell("loss") == f"{np.mean([1, 2, 4]):.4f} ± {np.std([1, 2, 4]):.4f}"
    with pytest.raises(ValueError, match="no finished runs"):
        aggregate.aggregate([])


def test_mean_history_counts_each_epoch_over_the_runs_that_reached_it() -> None:
    means, stds = history.mean_history([{"val_loss": [3.0, 2.0, 1.0]}, {"val_loss": [5.0, 4.0]}])
    assert means["val_loss"] == [4.0, 3.0, 1.0] and stds["val_loss"] == [1.0, 1.0, 0.0]


def fake_sweep(client: MlflowClient, values: dict[tuple[str, str], float]) -> str:
    """A parent with one finished child per (learning rate, seed) in a real store, logged as
    imgexp logs them (params and per-epoch/final metrics), plus one failed child."""
    experiment = client.create_experiment("sweeps")
    parent = client.create_run(experiment, run_name="sweep-x", tags={"imgexp.role": "sweep"})
    parent_id = parent.info.run_id
    for (rate, seed), value in [*values.items(), (("0.1", "9"), None)]:
        child = client.create_run(experiment, tags={"mlflow.parentRunId": parent_id})
        params = {"optimizer.learning_rate": rate, "trainer.seed": seed, "model.name": "mlp"}
        client.log_batch(child.info.run_id, params=[Param(k, v) for k, v in params.items()])
        if value is None:
            client.set_terminated(child.info.run_id, "FAILED")
            continue
        for step in (1, 2):
            client.log_metric(child.info.run_id, "val_accuracy", value * step / 2, step=step)
        client.log_metric(child.info.run_id, "test_accuracy", value + 0.01)
        client.set_terminated(child.info.run_id, "FINISHED")
    return parent_id


def test_several_groups_get_one_nested_group_run_each(isolated_home: Path) -> None:
    client = MlflowClient(f"sqlite:///{isolated_home}/groups.db")
    values = {("0.1", "0"): 0.5, ("0.1", "1"): 0.6, ("0.01", "0"): 0.8, ("0.01", "1"): 0.9}
    parent_id = fake_sweep(client, values)
    groups = aggregate.sweep_groups(children(client, parent_id))
    labels = [(g.label, g.stats.n) for g in groups]  # the failed child is in no group
    assert labels == [("optimizer.learning_rate=0.1", 2), ("optimizer.learning_rate=0.01", 2)]
    aggregate.record_sweep_groups(client, parent_id, groups, "sweep-x")
    # Aggregate runs are nested under the parent but are not jobs: `children` leaves them out.
    assert len(children(client, parent_id)) == 5
    made = client.search_runs(
        [client.get_run(parent_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and tags.`imgexp.role` = 'group'",
    )
    assert len(made) == 2 and {r.info.status for r in made} == {"FINISHED"}
    for run in made:
        rate = run.data.params["optimizer.learning_rate"]
        assert "trainer.seed" not in run.data.params
        assert run.info.run_name == f"sweep-x/group optimizer.learning_rate={rate}"
        finals = [values[(rate, seed)] for seed in ("0", "1")]
        assert run.data.metrics["val_accuracy_mean"] == pytest.approx(np.mean(finals))
        assert run.data.metrics["val_accuracy_std"] == pytest.approx(np.std(finals))
        assert run.data.metrics["n"] == 2
        assert [a.path for a in client.list_artifacts(run.info.run_id, "plots")] == [
            GROUP_CURVES_PNG
        ]
    # A plain sweep has nothing to average.
    assert len(aggregate.sweep_groups(children(client, parent_id))) == 2
    plain = MlflowClient(f"sqlite:///{isolated_home}/plain.db")
    plain_parent = fake_sweep(plain, {("0.1", "0"): 0.5, ("0.01", "0"): 0.8})
    assert aggregate.sweep_groups(children(plain, plain_parent)) == []


@pytest.mark.slow
def test_three_seeds_give_a_parent_with_numpy_mean_and_std(isolated_home: Path) -> None:
    out = run_cli("-m", *TINY, "trainer.seed=0,1,2", home=isolated_home).stdout
    client = MlflowClient(store_uri(isolated_home))
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    (parent,) = [r for r in runs if r.data.tags.get("imgexp.role") == "sweep"]
    jobs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(jobs) == 3  # one group: logged on the parent, no extra group run
    assert sorted(c.data.params["trainer.seed"] for c in jobs) == ["0", "1", "2"]
    for metric in ("val_accuracy", "val_loss", "test_accuracy", "test_macro_f1", "loss"):
        values = [c.data.metrics[metric] for c in jobs]
        assert parent.data.metrics[f"{metric}_mean"] == pytest.approx(np.mean(values), abs=1e-12)
        assert parent.data.metrics[f"{metric}_std"] == pytest.approx(np.std(values), abs=1e-12)
    assert parent.data.metrics["n"] == 3
    plots = [a.path for a in client.list_artifacts(parent.info.run_id, "plots")]
    assert GROUP_CURVES_PNG in plots and "plots/sweep_curves.png" in plots
    mean = parent.data.metrics["val_accuracy_mean"]
    assert f"| all | 3 | {mean:.4f} ± " in out  # the report printed at the end of the sweep
