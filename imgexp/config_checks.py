"""Valid ranges of the schemas' numbers, checked right after composition and before TensorFlow
is imported: every count, size, rate and fraction carries its range as dataclass field
metadata (``epochs: int = ranged(10, count(1))``), and `check_config` walks a composed (or
logged) config by its schema types and reports every value out of range at once, naming the
key, the value and the valid range.

Imports nothing but omegaconf: the schemas import `ranged` and the checks from here."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from imgexp.errors import ConfigError

RANGE = "imgexp.range"  # the field metadata key


@dataclass(frozen=True)
class Check:
    """A predicate on a plain value and the words for what it accepts."""

    test: Callable[[Any], bool]
    text: str

    def __call__(self, value: Any) -> bool:
        return self.test(value)


def ranged(default: Any, check: Check) -> Any:
    """A dataclass field whose value must pass ``check`` (a list default is copied per
    instance)."""
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata={RANGE: check})
    return dataclasses.field(default=default, metadata={RANGE: check})


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def count(low: int = 1) -> Check:
    """An integer >= ``low``."""
    return Check(lambda v: is_int(v) and v >= low, f"an integer >= {low}")


def number(low: float, high: float | None = None, low_open=False, high_open=False) -> Check:
    """A number in the interval (``*_open``: the bound itself excluded; no ``high``: none)."""
    if high is None:
        text = f"a number {'>' if low_open else '>='} {low}"
    else:
        text = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"

    def test(value: Any) -> bool:
        if not is_number(value):
            return False
        above = value > low if low_open else value >= low
        below = high is None or (value < high if high_open else value <= high)
        return above and below

    return Check(test, text)


POSITIVE = number(0, low_open=True)
NON_NEGATIVE = number(0)
FRACTION = number(0, 1, high_open=True)  # dropout, label smoothing: [0, 1)
SEED = count(0)
FINITE = Check(lambda v: is_number(v) and math.isfinite(v), "a finite number")
# A split: an integer count of examples, or a fraction of the split it is carved from.
SPLIT_SIZE = Check(
    lambda v: (is_int(v) and v >= 1) or (isinstance(v, float) and 0 < v < 1),
    "an integer count >= 1 or a fraction in (0, 1)",
)


def optional(check: Check) -> Check:
    """``check`` or null."""
    return Check(lambda v: v is None or check(v), f"{check.text}, or null")


def each(check: Check, length: int | None = None) -> Check:
    """A list whose every item passes ``check`` (of exactly ``length`` items when given)."""
    size = f"{length} " if length else ""
    return Check(
        lambda v: (
            isinstance(v, list)
            and (length is None or len(v) == length)
            and all(check(item) for item in v)
        ),
        f"a list of {size}items, each {check.text}",
    )


def one_of(*choices: Any) -> Check:
    """One of ``choices`` (compared with their type: ``1`` is not ``true``)."""
    return Check(
        lambda v: any(type(v) is type(c) and v == c for c in choices),
        "one of " + ", ".join(show(c) for c in choices),
    )


def show(value: Any) -> str:
    """A value as it is written on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(show(item) for item in value) + "]"
    return str(value)


def range_problems(node: DictConfig, prefix: str = "") -> list[str]:
    """``key=value: must be ...`` for every field of ``node``'s schema (and of the typed
    nodes inside it) whose value is out of its range; untyped nodes are not looked into."""
    kind = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(kind):
        return [
            problem
            for key, child in node.items_ex(resolve=False)
            if isinstance(child, DictConfig)
            for problem in range_problems(child, f"{prefix}{key}.")
        ]
    problems: list[str] = []
    for spec in dataclasses.fields(kind):
        if spec.name not in node or OmegaConf.is_missing(node, spec.name):
            continue
        value = node[spec.name]
        key = f"{prefix}{spec.name}"
        if OmegaConf.is_dict(value):
            problems += range_problems(value, f"{key}.")
            continue
        plain = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        check = spec.metadata.get(RANGE)
        if check is not None and not check(plain):
            problems.append(f"{key}={show(plain)}: must be {check.text}")
    return problems


def cross_problems(cfg: DictConfig) -> list[str]:
    """Ranges that depend on another key: a fold index below the fold count, the unfreeze
    epoch inside the training, a model alias only with a registered model."""
    problems = []
    cv = OmegaConf.select(cfg, "dataset.cv")
    if cv is not None and cv.get("fold") is not None and is_int(cv.get("folds")):
        folds, fold = cv.folds, cv.fold
        if folds < 2 or not 0 <= fold < folds:
            problems.append(
                f"dataset.cv.fold={fold} needs dataset.cv.folds=k >= 2 and a fold in 0..k-1 "
                f"(dataset.cv.folds={folds})"
            )
    epoch = OmegaConf.select(cfg, "trainer.unfreeze.epoch")
    epochs = OmegaConf.select(cfg, "trainer.epochs")
    if is_int(epoch) and is_int(epochs) and 1 <= epochs <= epoch:
        problems.append(
            f"trainer.unfreeze.epoch={epoch}: must lie between 1 and trainer.epochs - 1 "
            f"({epochs - 1})"
        )
    alias = OmegaConf.select(cfg, "tracking.register_alias")
    if alias and not OmegaConf.select(cfg, "tracking.register_model"):
        problems.append(
            f"tracking.register_alias={alias}: needs tracking.register_model=<name> (the "
            "registered model whose new version the alias points at)"
        )
    return problems


def check_config(cfg: DictConfig) -> DictConfig:
    """Raise `ConfigError` listing every value out of range; return ``cfg`` when all are in."""
    problems = range_problems(cfg) + cross_problems(cfg)
    if problems:
        raise ConfigError("\n".join(problems))
    return cfg
