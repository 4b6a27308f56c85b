"""``imgexp lr-find [--min-lr X] [--max-lr Y] [--steps N] [--rule R] [OVERRIDE ...]``: the
learning-rate range test (`imgexp.trainer.lr_find`) on exactly the data pipeline, model, loss and
optimizer that ``imgexp OVERRIDE ...`` would train (`imgexp.runner`'s own steps), logged as an
MLflow run tagged ``imgexp.task=lr-find`` with its plot and curve, in the experiment the config
names. It prints the curve, the suggested rate with the rule that chose it, and the command that
trains with it. Flags and overrides mix in any order; the flags are checked and the config is
composed before TensorFlow loads. Nothing is kept for later: the stepped model is thrown away."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imgexp.cli.closing import is_new_store, print_run_location
from imgexp.cli.failure import report
from imgexp.errors import ConfigError
from imgexp.tracking import names
from imgexp.trainer import distribute, lr_find

if TYPE_CHECKING:
    from imgexp.job import JobInfo

PROG = "imgexp lr-find"
RATE_KEY = "optimizer.learning_rate"
TABLE_ROWS = 10


def parser() -> argparse.ArgumentParser:
    """The command line."""
    defaults = lr_find.Ramp()
    cli = argparse.ArgumentParser(
        prog=PROG,
        description="Learning-rate range test: train one batch per rate, the rates growing "
        "exponentially from --min-lr to --max-lr, stop when the smoothed loss passes "
        f"{lr_find.DIVERGENCE:g} x its best; suggest a rate and print the `imgexp` command "
        "that trains with it. A schedule= other than constant is replaced by the ramp for the "
        "test (training keeps it). Logged as an MLflow run (imgexp.task=lr-find) with "
        f"{names.LR_FIND_PNG} and {names.LR_FIND_CURVE_ARTIFACT}.",
    )
    cli.add_argument("overrides", nargs="*", help="config overrides, as for `imgexp`")
    cli.add_argument(
        "--min-lr",
        type=float,
        default=defaults.min_lr,
        help=f"first rate (default {defaults.min_lr:g})",
    )
    cli.add_argument(
        "--max-lr",
        type=float,
        default=defaults.max_lr,
        help=f"last rate (default {defaults.max_lr:g})",
    )
    cli.add_argument(
        "--steps",
        type=int,
        default=defaults.steps,
        help=f"rates tried, one batch each ({lr_find.MIN_STEPS}-"
        f"{lr_find.MAX_STEPS}; default {defaults.steps})",
    )
    rules = "; ".join(f"{name}: {text}" for name, text in lr_find.RULES.items())
    cli.add_argument(
        "--rule",
        choices=sorted(lr_find.RULES),
        default=defaults.rule,
        help=f"how the rate is picked (default {defaults.rule}). {rules}",
    )
    cli.add_argument("--config-dir", help="a directory of your own YAML configs")
    return cli


@dataclass
class Outcome:
    """What the test measured and where it was logged."""

    curve: lr_find.Curve
    suggestion: lr_find.Suggestion
    run_id: str | None
    experiment_id: str | None
    replaced_schedule: str | None
    train_images: int | None


def main(argv: list[str]) -> int:
    """Check, compose, run the test, print; 0 with a suggestion, 1 without one."""
    args = parser().parse_intermixed_args(argv)
    ramp = lr_find.Ramp(args.min_lr, args.max_lr, args.steps, args.rule)  # a bad flag: now
    from hydra.errors import HydraException
    from omegaconf import open_dict
    from omegaconf.errors import OmegaConfBaseException

    from imgexp.config import compose_config

    try:
        cfg = compose_config(*args.overrides, config_dir=args.config_dir)
    except (HydraException, OmegaConfBaseException) as error:
        return report(PROG, error)
    preset = cfg.hydra.runtime.choices.get("experiment")
    with open_dict(cfg):
        del cfg["hydra"]  # as `imgexp.train` does: the job's node, not the run's config
    if distribute.multi_worker(cfg.trainer.get("strategy")):
        raise ConfigError(
            "trainer.strategy=multi_worker_mirrored: the range test runs in one process; "
            "use trainer.strategy=default or mirrored (the rate suits the same global batch)"
        )
    new_store = is_new_store(cfg.tracking.uri)
    from imgexp.job import JobInfo  # MLflow: after the checks

    job = JobInfo(overrides=list(args.overrides), preset=preset)
    outcome = run_test(cfg, ramp, job, f"{PROG} {shlex.join(argv)}")
    print_outcome(cfg, ramp, outcome, args)
    where = f"lr-find in experiment '{cfg.tracking.experiment}'"
    print_run_location(outcome.run_id, outcome.experiment_id, cfg.tracking.uri, where, new_store)
    return 0 if outcome.suggestion.lr is not None else 1


def run_test(cfg: Any, ramp: lr_find.Ramp, job: JobInfo, command: str) -> Outcome:
    """The runner's session, data and model, the trainer's compile with the config's optimizer
    (at a constant rate), the ramp; everything logged in one run."""
    from imgexp import job as jobs
    from imgexp import runner
    from imgexp.optimizer.build import build_optimizer
    from imgexp.tracking.run import tracked_run
    from imgexp.tracking.secrets import Redactor
    from imgexp.trainer.compile import compile_model

    strategy = distribute.get_strategy(cfg.trainer.get("strategy", "default"))
    precision = runner.start_session(cfg)
    run_name = cfg.tracking.get("run_name") or f"lr-find {jobs.default_run_name(cfg, job)}"
    tags = (
        jobs.run_tags(cfg, job)
        | distribute.tags(strategy)
        | {
            "trainer.precision": precision,
            names.TASK_TAG: names.LR_FIND_TASK,
            names.NOTE_TAG: f"Learning-rate range test of `{cfg.dataset.name}`/`{cfg.model.name}` "
            f"(rule: {lr_find.RULES[ramp.rule]}).\n\nCommand:\n\n    {command}",
        }
    )
    ramp_cfg, replaced = lr_find.ramp_config(cfg)
    redactor = Redactor(jobs.plain_config(cfg))
    with (
        tracked_run(jobs.chief_tracking(cfg), run_name, tags, redactor=redactor) as tracker,
        strategy.scope(),
    ):
        jobs.log_config(tracker, cfg, job)
        data = runner.prepare_data(cfg, job, tracker)
        model = runner.prepare_model(cfg, data, tracker)
        optimizer, _ = build_optimizer(ramp_cfg, data)  # a constant rate has no callbacks
        compile_model(model, optimizer, data, ramp_cfg.trainer)
        curve = lr_find.range_test(model, iter(data.train.repeat()), ramp)
        suggestion = lr_find.suggest(curve, ramp)
        log_test(tracker, ramp, curve, suggestion, replaced, run_name)
    count = (data.counts or {}).get("train")
    return Outcome(curve, suggestion, tracker.run_id, tracker.experiment_id, replaced, count)


def log_test(tracker, ramp, curve, suggestion, replaced: str | None, title: str) -> None:
    """Params, tags, the metric suggested_lr, the curve as JSON and its figure."""
    from imgexp.evaluation.lr_find_figure import lr_find_figure

    tracker.log_params(ramp.params() | {"lr_find.schedule_replaced": replaced or "none"})
    found = suggestion.lr is not None
    tracker.set_tags({
        names.SUGGESTED_LR_TAG: f"{suggestion.lr:.3g}" if found else suggestion.reason,
        names.LR_FIND_RULE_TAG: f"{ramp.rule}: {suggestion.description}",
        names.LR_FIND_STOPPED_TAG: curve.stopped,
    })  # fmt: skip
    found_metric = {"suggested_lr": suggestion.lr} if found else {}
    tracker.log_metrics({"lr_find.steps_run": len(curve.lrs)} | found_metric)
    record = curve.as_dict() | ramp.params() | suggestion.as_dict()
    tracker.log_dict(record, names.LR_FIND_CURVE_ARTIFACT)
    figure = lr_find_figure(
        curve.lrs, curve.losses, curve.smoothed, suggestion.index, ramp.rule, title
    )
    tracker.log_figure(figure, names.LR_FIND_PNG)


def print_outcome(
    cfg: Any, ramp: lr_find.Ramp, outcome: Outcome, args: argparse.Namespace
) -> None:
    """What ran, a sample of the curve, why it stopped, the suggestion and how to train with it."""
    curve, suggestion = outcome.curve, outcome.suggestion
    batch = int(cfg.trainer.batch_size)
    images = outcome.train_images
    epochs = (
        f" ({len(curve.lrs) * batch / images:.2g} epochs of {images} images)" if images else ""
    )
    print(
        f"{PROG}: {ramp.steps} steps from lr {ramp.min_lr:g} to {ramp.max_lr:g} (exponential), "
        f"batches of {batch} from {cfg.dataset.name}{epochs}"
    )
    if outcome.replaced_schedule:
        print(
            f"schedule={outcome.replaced_schedule}: replaced by the ramp for the test (training "
            f"keeps it; the suggestion is for {RATE_KEY}, the rate it scales)"
        )
    rows = sorted(
        {
            *range(0, len(curve.lrs), max(1, len(curve.lrs) // TABLE_ROWS)),
            len(curve.lrs) - 1,
            *([suggestion.index] if suggestion.lr is not None else []),
        }
    )
    print(f"{'step':>6} {'lr':>10} {'loss':>10} {'smoothed':>10}")
    for index in rows:
        mark = "  <- suggested" if index == suggestion.index else ""
        print(
            f"{index + 1:>6} {curve.lrs[index]:>10.3g} {curve.losses[index]:>10.4g} "
            f"{curve.smoothed[index]:>10.4g}{mark}"
        )
    print(f"stopped: {curve.stopped}")
    if suggestion.lr is None:
        print(f"no suggestion (rule {ramp.rule}): {suggestion.reason}")
        return
    print(
        f"suggested learning rate: {suggestion.lr:.3g} (rule {ramp.rule}: "
        f"{suggestion.description}; the first {ramp.skip_begin} and last {lr_find.SKIP_END} "
        "points not considered)"
    )
    print("train with it:")
    print(f"  {train_command(args.overrides, suggestion.lr, args.config_dir)}")


def train_command(overrides: list[str], rate: float, config_dir: str | None = None) -> str:
    """``imgexp <the same overrides> optimizer.learning_rate=<rate>`` (an earlier rate dropped)."""
    kept = [o for o in overrides if o.lstrip("+~").partition("=")[0] != RATE_KEY]
    words = [
        "imgexp",
        *(["--config-dir", config_dir] if config_dir else []),
        *kept,
        f"{RATE_KEY}={rate:.3g}",
    ]
    return " ".join(shlex.quote(word) for word in words)
