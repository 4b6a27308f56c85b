"""The learning-rate range test of `imgexp lr-find` (Leslie Smith, "Cyclical Learning Rates for
Training Neural Networks", https://arxiv.org/abs/1506.01186, as fastai's ``lr_find`` and PyTorch
Lightning's ``Tuner.lr_find`` run it; Keras has none): one optimizer step per rate, the rates
growing exponentially from ``min_lr`` to ``max_lr``; the loss smoothed by an exponential moving
average with bias correction (beta 0.98, both libraries' value); a stop when the smoothed loss
passes 4 x its best or the loss is not finite; then a rule picks a rate off the smoothed curve.

Only numpy at the top: the command checks its flags with `Ramp` before TensorFlow loads, and the
model is stepped through its own methods."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from imgexp.errors import ConfigError
from imgexp.schedule.schema import ConstantConfig

SMOOTHING = 0.98  # beta of the moving average (fastai, Lightning)
DIVERGENCE = 4.0  # stop once the smoothed loss exceeds this many times its best so far
MIN_STEPS, MAX_STEPS = 10, 2000
MIN_POINTS = 3  # fewer points left for the rule: no suggestion
SKIP_END = 1  # points the rule ignores at the end (Lightning's: the point where it stopped)
# What each rule picks, in the words the output, the run's tags and the docs use.
RULES = {
    "steepest": "the steepest fall of the smoothed loss per decade of learning rate (PyTorch "
    "Lightning's lr_find suggestion, taken on log(lr) as fastai's `steep`)",
    "valley": "halfway along the longest falling stretch of the smoothed loss (fastai's "
    "`valley`, its default)",
}


@dataclass(frozen=True)
class Ramp:
    """The rates to try: ``steps`` of them, evenly spaced in log(lr) from ``min_lr`` to
    ``max_lr`` (both included), and the rule that picks one. Checked when made."""

    min_lr: float = 1e-7
    max_lr: float = 10.0
    steps: int = 100
    rule: str = "steepest"

    def __post_init__(self) -> None:
        problems = []
        if not (math.isfinite(self.min_lr) and self.min_lr > 0):
            problems.append(f"--min-lr={self.min_lr}: use a rate > 0 (e.g. 1e-7)")
        if not (math.isfinite(self.max_lr) and self.max_lr > self.min_lr):
            problems.append(f"--max-lr={self.max_lr}: use a rate above --min-lr={self.min_lr}")
        if not MIN_STEPS <= self.steps <= MAX_STEPS:
            problems.append(f"--steps={self.steps}: use {MIN_STEPS} to {MAX_STEPS} steps")
        if self.rule not in RULES:
            problems.append(f"--rule={self.rule}: use one of {', '.join(RULES)}")
        if problems:
            raise ConfigError("; ".join(problems))

    def rates(self) -> np.ndarray:
        """The learning rate of each step."""
        return np.geomspace(self.min_lr, self.max_lr, self.steps)

    def params(self) -> dict[str, Any]:
        """The test's settings, as the run's params (``lr_find.*``)."""
        settings = {"min_lr": self.min_lr, "max_lr": self.max_lr, "steps": self.steps,
                    "rule": self.rule, "smoothing": SMOOTHING, "divergence_factor": DIVERGENCE,
                    "skip_begin": self.skip_begin, "skip_end": SKIP_END}  # fmt: skip
        return {f"lr_find.{key}": value for key, value in settings.items()}

    @property
    def skip_begin(self) -> int:
        """Points the rule ignores at the start (the flat, noisy beginning; fastai's tenth)."""
        return self.steps // 10


@dataclass
class Curve:
    """What the ramp measured, step by step, and why it ended."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    steps_requested: int
    stopped: str
    diverged: bool

    def as_dict(self) -> dict[str, Any]:
        """The curve as JSON-safe data (a non-finite loss as null)."""

        def finite(values: list[float]) -> list[float | None]:
            return [v if math.isfinite(v) else None for v in values]

        return {
            "lr": self.lrs, "loss": finite(self.losses), "smoothed_loss": finite(self.smoothed),
            "steps_requested": self.steps_requested, "steps_run": len(self.lrs),
            "stopped": self.stopped, "diverged": self.diverged,
        }  # fmt: skip


@dataclass
class Suggestion:
    """The rate a rule picked (``lr``/``index`` None when it could not: ``reason`` says why)."""

    rule: str
    lr: float | None = None
    index: int | None = None
    reason: str = ""

    @property
    def description(self) -> str:
        """The rule in words."""
        return RULES[self.rule]

    def as_dict(self) -> dict[str, Any]:
        """The suggestion as JSON-safe data."""
        return {
            "suggested_lr": self.lr,
            "suggested_step": self.index,
            "no_suggestion": self.reason,
        }


def ramp_config(cfg: DictConfig) -> tuple[DictConfig, str | None]:
    """The config the ramp steps with, and the name of the schedule it replaced (None for
    constant): a constant schedule (the ramp sets the rate itself each step) and one batch per
    compiled call (``steps_per_execution`` only groups calls; one batch needs no loop)."""
    ramp_cfg = cfg.copy()
    ramp_cfg.trainer.steps_per_execution = 1
    if cfg.schedule._target_ == ConstantConfig._target_:
        return ramp_cfg, None
    ramp_cfg.schedule = OmegaConf.structured(ConstantConfig)
    return ramp_cfg, str(cfg.schedule.get("name") or cfg.schedule._target_)


def range_test(model: Any, batches: Iterator, ramp: Ramp) -> Curve:
    """Step the compiled ``model`` (a keras.Model) once per rate on the next of ``batches``."""
    optimizer = model.optimizer  # under mixed_float16 the loss-scale wrapper sets the inner rate

    def step(rate: float) -> float:
        optimizer.learning_rate = rate
        images, labels = next(batches)
        return float(model.train_on_batch(images, labels, return_dict=True)["loss"])

    return ramp_losses(step, ramp)


def ramp_losses(step: Callable[[float], float], ramp: Ramp) -> Curve:
    """``step(rate)`` (one optimizer step at that rate, returning its loss) along the ramp,
    smoothed, until the end or the divergence."""
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average, best = 0.0, math.inf
    stopped, diverged = f"ran all {ramp.steps} steps", False
    for index, rate in enumerate(ramp.rates().tolist()):
        loss = step(rate)
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        value = average / (1 - SMOOTHING ** (index + 1))  # bias correction of the first steps
        lrs.append(rate)
        losses.append(loss)
        smoothed.append(value)
        where = f"after {index + 1} of {ramp.steps} steps, at lr {rate:.3g}"
        if not math.isfinite(loss):
            stopped, diverged = f"diverged {where}: the loss is {loss}", True
            break
        if value > DIVERGENCE * best:  # best is inf at the first step
            stopped = (
                f"diverged {where}: smoothed loss {value:.4g} > {DIVERGENCE:g} x best {best:.4g}"
            )
            diverged = True
            break
        best = min(best, value)
    return Curve(lrs, losses, smoothed, ramp.steps, stopped, diverged)


def suggest(curve: Curve, ramp: Ramp) -> Suggestion:
    """The rate ``ramp.rule`` picks, ignoring ``ramp.skip_begin`` points at the start and
    `SKIP_END` at the end (the stop leaves every other point finite)."""
    begin, end = ramp.skip_begin, len(curve.lrs) - SKIP_END
    if end - begin < MIN_POINTS:
        return Suggestion(
            ramp.rule,
            reason=f"only {max(0, end - begin)} points for the rule (the test {curve.stopped}; "
            f"the first {begin} and last {SKIP_END} are not used): lower --max-lr or give "
            "more --steps",
        )
    losses = np.asarray(curve.smoothed[begin:end])
    log_lrs = np.log10(curve.lrs[begin:end])
    index = steepest(log_lrs, losses) if ramp.rule == "steepest" else valley(losses)
    if index is None:
        return Suggestion(
            ramp.rule,
            reason=f"the smoothed loss never fell between lr {curve.lrs[begin]:.3g} and "
            f"{curve.lrs[end - 1]:.3g}: raise --max-lr",
        )
    return Suggestion(ramp.rule, curve.lrs[begin + index], begin + index)


def steepest(log_lrs: np.ndarray, losses: np.ndarray) -> int | None:
    """The point of the most negative slope d(loss)/d(log10 lr); None when nothing falls."""
    slopes = np.gradient(losses, log_lrs)
    index = int(np.argmin(slopes))
    return index if slopes[index] < 0 else None


def valley(losses: np.ndarray) -> int | None:
    """Halfway along the longest decreasing subsequence of the losses (fastai's valley: its
    first and last points bound the stretch); None when nothing falls."""
    lengths = np.ones(len(losses), dtype=int)
    starts = np.arange(len(losses))
    for i in range(1, len(losses)):
        higher = np.flatnonzero(losses[:i] > losses[i])
        if higher.size:
            longest = higher[lengths[higher] == lengths[higher].max()]
            j = longest[-1]  # the latest of the longest: the stretch starts where it falls
            lengths[i], starts[i] = lengths[j] + 1, starts[j]
    end = int(np.argmax(lengths))
    if lengths[end] == 1:
        return None
    return int(starts[end]) + (end - int(starts[end])) // 2
