"""Which ``_target_`` a config read back from a store may name. A logged config is untrusted
input (on a shared store anyone who can write an artifact wrote it), and every ``_target_`` in
it is imported and called, so `check_targets` refuses, by name and before anything is imported,
every target that is not one of imgexp's own builders or a Keras class its groups use.

Your own modules: ``IMGEXP_ALLOWED_TARGETS=mymodule,other.pkg`` (comma-separated module
prefixes, or patterns such as ``mymodule.build_*``, where ``*`` stays within one dotted part).
It is an environment variable, not a config key, on purpose: a config cannot vouch for itself.
A config composed from your own command line and config directories is yours and is not
checked; `imgexp rerun` checks every logged one (imgexp/rerun.py)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from omegaconf import OmegaConf

from imgexp.errors import UntrustedTargetError

ALLOWED_ENV = "IMGEXP_ALLOWED_TARGETS"

# The builders conf/ names, and the Keras classes of the optimizer, callback and augmentation
# groups: any optimizer class (capitalised names, never keras' deserialize/get functions), the
# callbacks conf/ uses plus ReduceLROnPlateau and TensorBoard, the augmentation layers.
DEFAULT_ALLOWED = (
    "imgexp.dataset.*.load",
    "imgexp.dataset.*.load_*",
    "imgexp.model.*.build",
    "imgexp.trainer.fit.train",
    "imgexp.trainer.custom_loop.train",
    "imgexp.schedule.schedules.*",
    "keras.optimizers.[A-Z]*",
    "keras.callbacks.TerminateOnNaN",
    "keras.callbacks.EarlyStopping",
    "keras.callbacks.ModelCheckpoint",
    "keras.callbacks.BackupAndRestore",
    "keras.callbacks.ReduceLROnPlateau",
    "keras.callbacks.TensorBoard",
    "keras.layers.Random[A-Z]*",
    "keras.layers.MixUp",
    "keras.layers.CutMix",
    "keras.layers.AugMix",
    "keras.layers.RandAugment",
    "keras.layers.AutoContrast",
    "keras.layers.Equalization",
    "keras.layers.Solarization",
)


def allowed_patterns() -> list[str]:
    """The defaults plus ``$IMGEXP_ALLOWED_TARGETS`` (a bare name allows that module and
    everything inside it)."""
    patterns = list(DEFAULT_ALLOWED)
    for entry in os.environ.get(ALLOWED_ENV, "").split(","):
        entry = entry.strip()
        if entry:
            patterns += [entry] if any(c in entry for c in "*?[") else [entry, f"{entry}.**"]
    return patterns


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """fnmatch syntax where ``*`` and ``?`` stay inside one dotted part; ``**`` spans parts."""
    parts = re.split(r"(\*\*|\*|\?|\[[^\]]*\])", pattern)
    wild = {"**": ".*", "*": "[^.]*", "?": "[^.]"}
    return re.compile(
        "".join(wild.get(p, p if p.startswith("[") else re.escape(p)) for p in parts) + r"\Z"
    )


def is_allowed(target: Any, patterns: list[str] | None = None) -> bool:
    """Whether ``target`` (a dotted name, never imported here) matches an allowed pattern.
    Only plain public names: no part may start with ``_`` (no ``__globals__`` walks)."""
    if not isinstance(target, str) or not all(
        part.isidentifier() and part.isascii() and not part.startswith("_")
        for part in target.split(".")
    ):
        return False
    return any(pattern_regex(p).match(target) for p in patterns or allowed_patterns())


def targets_in(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` of a ``_target_`` key anywhere in a plain or OmegaConf tree."""
    if OmegaConf.is_config(tree):
        tree = OmegaConf.to_container(tree, resolve=False)
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "_target_":
                yield f"{prefix}{key}", value
            else:
                yield from targets_in(value, f"{prefix}{key}.")
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from targets_in(value, f"{prefix.rstrip('.')}[{index}].")


def check_targets(tree: Any, source: str) -> None:
    """Raise `UntrustedTargetError` naming every ``_target_`` in ``tree`` that is not allowed
    (``source`` says where the config came from)."""
    patterns = allowed_patterns()
    refused = [
        f"{key}={value}" for key, value in targets_in(tree) if not is_allowed(value, patterns)
    ]
    if refused:
        raise UntrustedTargetError(
            f"{source} names a _target_ imgexp does not run from a stored config:\n  "
            + "\n  ".join(refused)
            + f"\nNothing was imported. If it is your own code, allow it with {ALLOWED_ENV}="
            "<module>[,<module>...] (module prefixes or fnmatch patterns)."
        )
