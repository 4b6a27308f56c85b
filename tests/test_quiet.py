"""A run on a machine without a GPU prints no TensorFlow start-up noise (oneDNN, CUDA stub,
cuInit, absl), while any other line TensorFlow writes to stderr still reaches the user."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from imgexp.trainer.tensorflow_import import NOISE, stderr_without

NOISY = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796154964.385696   20265 port.cc:153] oneDNN custom operations are on. ...",
    "I0000 00:00:1796154964.386432   20265 cudart_stub.cc:31] Could not find cuda drivers ...",
    "E0000 00:00:1796154973.027562   20265 cuda_platform.cc:52] failed call to cuInit: ...",
]


def test_only_the_known_notices_are_dropped(capfd: pytest.CaptureFixture[str]) -> None:
    with stderr_without(NOISE):
        for line in [*NOISY, "E0000 real_error.cc:1] the GPU caught fire"]:
            os.write(2, (line + "\n").encode())
        print("a Python warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "the GPU caught fire" in err and "a Python warning" in err
    assert not any(line.split("]")[0] in err for line in NOISY[1:])
    assert "absl::InitializeLog" not in err


@pytest.mark.slow
def test_importing_tensorflow_is_quiet_and_verbose_on_request() -> None:
    code = "from imgexp.trainer.tensorflow_import import import_tensorflow; import_tensorflow()"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert not NOISE.search(quiet.stderr), quiet.stderr
    loud = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env | {"IMGEXP_TF_VERBOSE": "1"},
        timeout=120,
        check=True,
    )
    # On a CPU-only machine TensorFlow announces itself; the switch lets that through again.
    cpu_only = "Could not find cuda drivers" in loud.stderr
    assert cpu_only == bool(NOISE.search(loud.stderr))
