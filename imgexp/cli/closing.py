"""The closing lines every command that logged a run prints: where the run is and how to see
it (one copy, so train, rerun and eval say it alike)."""

from __future__ import annotations

import os
from pathlib import Path


def print_run_location(
    run_id: str | None,
    experiment_id: str | None,
    uri: str,
    what: str = "",
    new_store: bool = False,
) -> None:
    """``MLflow run id``, the store (and why that one), the command that opens the UI on
    ``uri`` and the run's address. ``new_store``: this run created the store (a typo in a
    path makes a new, empty one: said, not silent)."""
    from imgexp.tracking.store import runs_url, ui_command

    if not run_id:
        return
    print_data_audit(run_id, uri)
    created = "; created by this run" if new_store else ""
    print(f"MLflow run id: {run_id}{f' ({what})' if what else ''}")
    print(f"MLflow store:  {uri} ({store_origin(uri)}{created})")
    print(f"open the UI:   {ui_command(uri)}")
    print(f"then browse:   {runs_url(experiment_id, run_id)}")


def print_data_audit(run_id: str, uri: str) -> None:
    """The run's data audit in one line, read back from its tags (a run without them, an
    evaluation or a fold/repeat group, prints none)."""
    from imgexp.dataset.audit_summary import headline
    from imgexp.tracking import names
    from imgexp.tracking.store import client

    tags = client(uri).get_run(run_id).data.tags
    if names.DATA_OVERLAP_TAG in tags:
        overlap, copies = int(tags[names.DATA_OVERLAP_TAG]), int(tags[names.DATA_DUPLICATES_TAG])
        print(f"data audit:    {headline(overlap, copies)} ({names.DATA_AUDIT_ARTIFACT})")


def store_origin(uri: str) -> str:
    """Why this store: the rule of imgexp/tracking/uri.py, as the user set it."""
    from imgexp.tracking.uri import TRACKING_URI_ENV, default_tracking_uri

    if uri == os.environ.get(TRACKING_URI_ENV):
        return f"from ${TRACKING_URI_ENV}"
    return (
        "imgexp's default store" if uri == default_tracking_uri() else "named on the command line"
    )


def is_new_store(uri: str) -> bool:
    """True for a sqlite store whose file does not exist yet (the run will create it)."""
    return uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists()


def print_test_accuracy(metrics: dict[str, float]) -> None:
    """The headline number; a k-fold/repeat group shows mean ± std."""
    accuracy = metrics.get("test_accuracy", float("nan"))
    spread = metrics.get("test_accuracy_std")
    n = f" ± {spread:.4f} (mean of {metrics['n']:.0f} runs)" if spread is not None else ""
    print(f"test accuracy: {accuracy:.4f}{n}")
