"""``imgexp reproduce``: train presets at a budget and hold each measured figure against the
one the preset declares (``reproduce:`` in conf/experiment/<preset>.yaml, typed by
`imgexp.config.ReproduceConfig`; ``full``: the tutorial's figure, ``quick``: a few epochs,
measured on the project's machine). One rule, `RULE`: a figure far above the expected one
fails too (it trains something else than the tutorial, or leaks). No expected figure: ``no
figure``, never a miss; data or weights not on this machine: ``missing data`` / ``missing
weights`` with the loader's message, shown but not a miss; any other error: ``error``, a miss,
and the next preset still runs. docs/reproduce.md has the whole story.

`plan` composes and checks a preset without TensorFlow; `reproduce` trains one plan in this
process and records its verdict in the run."""

from __future__ import annotations

import math
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict

from imgexp.config import compose_config
from imgexp.errors import ConfigError, DataNotFoundError, UserError, WeightsNotFoundError
from imgexp.tracking import names

BUDGETS = ("full", "quick")
PASS, FAIL, NO_FIGURE, ERROR = "pass", "fail", "no figure", "error"
MISSING_DATA, MISSING_WEIGHTS = "missing data", "missing weights"
VERDICTS = (PASS, FAIL, NO_FIGURE, ERROR, MISSING_DATA, MISSING_WEIGHTS)
MISSES = (FAIL, ERROR)  # the verdicts that make the command exit 1
RULE = "pass when |measured - expected| <= tolerance (above as well as below)"
# A figure read back from float32 metrics sits a rounding step off a tolerance's edge.
EDGE = 1e-9


@dataclass
class Plan:
    """One preset at one budget, composed and checked, ready to train."""

    preset: str
    budget: str
    metric: str
    expected: float | None
    tolerance: float | None
    source: str
    note: str | None
    overrides: list[str]  # what trains: experiment=<preset>, the budget's, then the user's
    cfg: DictConfig


@dataclass
class Outcome:
    """What reproducing one plan gave: its verdict and where it was recorded."""

    plan: Plan
    verdict: str
    measured: float | None = None
    wall_s: float = 0.0
    hardware: str = ""
    run_id: str | None = None
    message: str = ""  # why a preset did not give a figure (missing data, an error)

    @property
    def delta(self) -> float | None:
        """measured - expected, when both exist."""
        if self.measured is None or self.plan.expected is None:
            return None
        return self.measured - self.plan.expected


def judge(measured: float, expected: float | None, tolerance: float | None) -> str:
    """The verdict of `RULE` (NaN fails; no expected figure: `NO_FIGURE`)."""
    if expected is None:
        return NO_FIGURE
    return PASS if abs(measured - expected) <= (tolerance or 0.0) + EDGE else FAIL


def compose(preset: str, overrides: list[str]) -> DictConfig:
    """The preset's config; a Hydra error names the preset it came from."""
    try:
        return compose_config(*overrides)
    except HydraException as error:
        raise ConfigError(f"{preset}: {error}") from error


def plan(preset: str, budget: str, overrides: list[str]) -> Plan:
    """Compose ``preset`` with ``overrides`` to read its ``reproduce`` block, then again with
    the budget's overrides in front of the user's (the user's win)."""
    if budget not in BUDGETS:
        raise ConfigError(f"budget={budget!r}: must be one of {', '.join(BUDGETS)}")
    declared = compose(preset, [f"experiment={preset}", *overrides]).reproduce
    block = declared[budget]
    where = f"reproduce.{budget}"
    if not declared.source:
        raise ConfigError(
            f"{preset}: reproduce.source is not set: a preset names the tutorial it "
            "reproduces, '\"<title>\" (<link>)'"
        )
    if block.expected is not None and block.tolerance is None:
        raise ConfigError(
            f"{preset}: {where}.expected={block.expected} needs {where}.tolerance "
            "(how far the measured figure may lie from it)"
        )
    training = [f"experiment={preset}", *block.overrides, *overrides]
    cfg = compose(preset, training)
    with open_dict(cfg):
        del cfg["hydra"]
    return Plan(preset=preset, budget=budget, metric=declared.metric, expected=block.expected,
                tolerance=block.tolerance, source=declared.source, note=block.note,
                overrides=training, cfg=cfg)  # fmt: skip


def reproduce(plan: Plan, reraise: bool = False) -> Outcome:
    """Train ``plan`` in this process and record its verdict in its run. ``reraise``
    (``HYDRA_FULL_ERROR=1``): an error propagates with its traceback instead of ending the
    preset as `ERROR`."""
    from imgexp.job import JobInfo
    from imgexp.runner import run

    started_ms = int(time.time() * 1000)
    start = time.monotonic()
    try:
        result = run(plan.cfg, JobInfo(overrides=plan.overrides, preset=plan.preset))
    except Exception as error:
        outcome = failed(plan, error, reraise)
        outcome.run_id = failed_run(plan, started_ms)
    else:
        outcome = measure(plan, result.metrics, result.run_id)
    outcome.wall_s = time.monotonic() - start
    outcome.hardware = hardware()
    record(outcome)
    return outcome


def failed(plan: Plan, error: Exception, reraise: bool) -> Outcome:
    """The outcome of a training that raised: missing data or weights, else `ERROR` (a user
    error with its message, anything else with its traceback on stderr too)."""
    missing = cause(error, DataNotFoundError)
    if missing is not None:
        kind = MISSING_WEIGHTS if isinstance(missing, WeightsNotFoundError) else MISSING_DATA
        return Outcome(plan, kind, message=str(missing))
    if reraise:
        raise error
    user = cause(error, UserError)
    if user is None:  # a bug or a crash: its traceback, then the next preset
        traceback.print_exception(error, file=sys.stderr)
    return Outcome(plan, ERROR, message=f"{type(user or error).__name__}: {user or error}")


def cause(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``error`` or the first exception in the chain it was raised from that is a ``kind``
    (Hydra wraps what a ``_target_`` raises in its InstantiationException)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def measure(plan: Plan, metrics: dict[str, float], run_id: str | None) -> Outcome:
    """The outcome of a finished run: its figure judged, or an error naming the metrics it
    has when the preset's ``reproduce.metric`` is not one of them."""
    if plan.metric not in metrics:
        message = (
            f"reproduce.metric={plan.metric} is not a metric of this run; it has: "
            f"{', '.join(sorted(metrics))}"
        )
        return Outcome(plan, ERROR, message=message, run_id=run_id)
    measured = float(metrics[plan.metric])
    return Outcome(plan, judge(measured, plan.expected, plan.tolerance), measured, run_id=run_id)


def failed_run(plan: Plan, started_ms: int) -> str | None:
    """The run a failed training opened, if it got that far (this preset's newest run in the
    plan's own store, started since ``started_ms``), so that its verdict is recorded too."""
    tracking = plan.cfg.tracking
    if not tracking.enabled:
        return None
    from imgexp.tracking import store

    try:
        client = store.existing_client(tracking.uri)
    except store.TrackingStoreError:  # it failed before its store was even opened
        return None
    since = (
        f"tags.`{names.PRESET_TAG}` = '{plan.preset}' and attributes.start_time >= {started_ms}"
    )
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, since, order_by=["start_time DESC"], max_results=1)
    return runs[0].info.run_id if runs else None


def record(outcome: Outcome) -> None:
    """The verdict in the run: a tag, the delta as a metric, target, tolerance and budget as
    params, the hardware as a tag."""
    tracking = outcome.plan.cfg.tracking
    if not outcome.run_id or not tracking.enabled:
        return
    from imgexp.tracking import store

    client = store.client(tracking.uri)
    client.set_tag(outcome.run_id, names.REPRODUCE_VERDICT_TAG, outcome.verdict)
    client.set_tag(outcome.run_id, names.HARDWARE_TAG, outcome.hardware)
    params = {
        names.REPRODUCE_BUDGET_PARAM: outcome.plan.budget,
        names.REPRODUCE_EXPECTED_PARAM: show(outcome.plan.expected),
        names.REPRODUCE_TOLERANCE_PARAM: show(outcome.plan.tolerance),
    }
    for key, value in params.items():
        client.log_param(outcome.run_id, key, value)
    delta = outcome.delta
    if delta is not None and math.isfinite(delta):
        client.log_metric(outcome.run_id, names.REPRODUCE_DELTA_METRIC, delta)


def show(value: float | None) -> str:
    """A figure as the table and the params write it (null: none)."""
    return "null" if value is None else f"{value:.4f}"


def hardware() -> str:
    """The CPU (model, the cores this process may use) and the GPUs TensorFlow sees."""
    import tensorflow as tf

    cpu = cpu_model() or platform.machine()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpus = [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    ]
    return f"{cores}-core {cpu} CPU, " + (", ".join(gpus) if gpus else "no GPU")


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), else None."""
    info = Path("/proc/cpuinfo")
    if not info.is_file():
        return None
    for line in info.read_text(errors="replace").splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip() or None
    return None


def preset_names() -> list[str]:
    """The packaged presets (conf/experiment/*.yaml)."""
    from importlib.resources import files

    folder = files("imgexp.conf") / "experiment"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )
