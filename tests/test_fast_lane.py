"""The fast lane's rule (`make test-fast` = ``pytest -m "not slow"``): a test that starts a
process must be marked slow. conftest.py refuses processes to every other test, in its
fixtures too, and git_commit() carries on without git."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest
from conftest import SubprocessInFastTest

from imgexp.job import git_commit


def test_a_subprocess_in_a_test_not_marked_slow_fails_saying_what_to_do() -> None:
    with pytest.raises(SubprocessInFastTest, match=r"mark this test @pytest\.mark\.slow") as info:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert "test_fast_lane.py::test_a_subprocess" in str(info.value)  # names the test
    assert sys.executable in str(info.value)  # and the command
    with pytest.raises(SubprocessInFastTest):
        os.system("true")
    with pytest.raises(SubprocessInFastTest):
        multiprocessing.get_context("fork").Process(target=print).start()


def test_popen_imported_by_name_elsewhere_is_refused_too() -> None:
    from subprocess import Popen  # as GitPython imports it

    with pytest.raises(SubprocessInFastTest):
        Popen(["true"])


def test_git_commit_tolerates_the_refusal() -> None:
    assert git_commit() is None  # git rev-parse refused: no commit tag, no error


@pytest.fixture
def child_output() -> str:
    """A fixture of a slow test may start processes too."""
    return subprocess.run(
        [sys.executable, "-c", "print('child')"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow
def test_a_test_marked_slow_may_start_processes(child_output: str) -> None:
    assert child_output == "child\n"
    done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
    assert git_commit() == (done.stdout.strip() or None)
