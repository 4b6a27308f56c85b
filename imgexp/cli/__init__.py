"""``imgexp``: one console script. ``imgexp <command> ...`` runs a command on models and past
runs (rerun, report, predict, eval); anything else is a Hydra training command (`train`).

Entry points (this package and `imgexp.api`) sit on top of every other layer; nothing inside
imgexp imports them."""

from __future__ import annotations

import importlib
import sys

from imgexp.cli.failure import guard

# Each command module has ``main(argv) -> exit status``; they import nothing heavy at the top.
COMMANDS = {
    "rerun": "imgexp.cli.rerun_command",
    "report": "imgexp.cli.report_command",
    "predict": "imgexp.cli.predict_command",
    "eval": "imgexp.cli.eval_command",
    "audit": "imgexp.cli.audit_command",
    "lr-find": "imgexp.cli.lr_find_command",
    "reproduce": "imgexp.cli.reproduce_command",
}


def entry() -> None:
    """Console script: fast help, a command, or compose and train."""
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        module = importlib.import_module(COMMANDS[sys.argv[1]])
        sys.exit(guard(f"imgexp {sys.argv[1]}", lambda: module.main(sys.argv[2:])))
    if len(sys.argv) == 2 and sys.argv[1] in ("--help", "-h"):
        from imgexp.cli.usage import usage

        print(usage())
        return
    from imgexp.cli.train import main

    main()
