"""One CLI: every command's ``--help`` answers without importing TensorFlow or MLflow (what
keeps it well under a second), and the aliases still work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imgexp.cli import COMMANDS


@pytest.mark.slow
def test_every_commands_help_is_light() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from imgexp.cli import entry\n"
        f"for command in {sorted(COMMANDS)!r} + ['']:\n"
        "    sys.argv = ['imgexp', *([command] if command else []), '--help']\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "        entry()\n"
        "    assert ('imgexp ' + command).strip() in out.getvalue(), (command, out.getvalue())\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    for alias in ("imgexp-predict", "imgexp-eval"):
        script = Path(sys.executable).parent / alias
        done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "usage: imgexp " in done.stdout
