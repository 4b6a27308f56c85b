"""``imgexp reproduce <preset>... [--budget full|quick] [key=value ...] [preset:key=value ...]``:
train each preset at a budget, judge its figure against the one the preset declares, record the
verdict in its run, print one table and exit 1 when any preset misses (`imgexp.reproduce`).

``key=value`` applies to every preset, ``preset:key=value`` to that preset only (after the
shared ones); both come after the budget's own overrides and win. Every preset is composed
and checked before the first one trains: a bad override ends the command at once."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imgexp.reproduce import Plan

EXIT_MISS = 1


def parser() -> argparse.ArgumentParser:
    """The command line (presets and overrides in any order around the flags)."""
    cli = argparse.ArgumentParser(
        prog="imgexp reproduce",
        description="Train presets and hold each figure against the one the preset declares "
        "(reproduce.full: the tutorial's; reproduce.quick: a few epochs, measured on the "
        "project's machine). Verdict: pass when |measured - expected| <= tolerance. Prints one "
        "table; exits 1 when any preset fails or errs. Missing data or weights: a row of its "
        "own, not a failure. key=value applies to every preset, preset:key=value to one.",
    )
    cli.add_argument(
        "words", nargs="*", metavar="preset | key=value | preset:key=value",
        help="presets to reproduce (conf/experiment/); overrides for all, or for one preset",
    )  # fmt: skip
    cli.add_argument("--all", action="store_true", help="every packaged preset")
    cli.add_argument("--budget", choices=["full", "quick"], default="full", help="default: full")
    cli.add_argument(
        "--results", metavar="PATH", help="also write the table as a Markdown page there "
        "(experiments/RESULTS.md is one); nothing is written without it",
    )  # fmt: skip
    return cli


def split(
    cli: argparse.ArgumentParser, words: list[str], everything: bool, known: list[str]
) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(presets, overrides for all, overrides by preset), with a clear error for an unknown
    preset, a ``preset:`` override of a preset not run, or no preset at all."""
    presets = [word for word in words if "=" not in word]
    overrides = [word for word in words if "=" in word]
    unknown = [preset for preset in presets if preset not in known]
    if unknown:
        cli.error(f"unknown preset(s) {unknown}; available: {', '.join(known)}")
    if everything and presets:
        cli.error("name presets or give --all, not both")
    presets = known if everything else presets
    if not presets:
        cli.error(f"name at least one preset, or --all; available: {', '.join(known)}")
    shared, own = [], {preset: [] for preset in presets}
    for override in overrides:
        key = override.partition("=")[0]
        if ":" not in key:
            shared.append(override)
            continue
        preset, _, rest = override.partition(":")
        if preset not in own:
            cli.error(f"{override}: {preset!r} is not a preset being reproduced ({presets})")
        own[preset].append(rest)
    return presets, shared, own


def main(argv: list[str]) -> int:
    """Entry of ``imgexp reproduce``: plan every preset, train them one after the other,
    print the table (and write ``--results``); exit 1 when any preset misses."""
    cli = parser()
    args = cli.parse_intermixed_args(argv)
    from imgexp import reproduce
    from imgexp.cli.failure import debugging

    presets, shared, own = split(cli, args.words, args.all, reproduce.preset_names())
    plans = [reproduce.plan(p, args.budget, [*shared, *own[p]]) for p in presets]
    from imgexp.reproduce_table import page, printed, summary

    outcomes = []
    for plan in plans:
        print(f"== {plan.preset} ({plan.budget}): imgexp {' '.join(plan.overrides)}", flush=True)
        outcomes.append(reproduce.reproduce(plan, reraise=debugging()))
        print(f"== {summary(outcomes[-1])}", flush=True)
    print("\n" + printed(outcomes, args.budget), end="")
    print_stores(plans)
    if args.results:
        command = shlex.join(["imgexp", "reproduce", *argv])
        data_dir = os.environ.get("IMGEXP_DATA_DIR")
        environment = f"`IMGEXP_DATA_DIR={data_dir}`" if data_dir else ""
        Path(args.results).write_text(page(outcomes, args.budget, command, environment))
        print(f"results: {args.results}")
    return EXIT_MISS if any(o.verdict in reproduce.MISSES for o in outcomes) else 0


def print_stores(plans: list[Plan]) -> None:
    """Where the runs went, once per store."""
    from imgexp.tracking.store import ui_command

    for uri in dict.fromkeys(p.cfg.tracking.uri for p in plans if p.cfg.tracking.enabled):
        print(f"MLflow store: {uri}\nopen the UI:  {ui_command(uri)}")
