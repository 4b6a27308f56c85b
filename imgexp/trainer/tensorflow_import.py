"""Import TensorFlow without its start-up noise on a machine without a GPU.

TensorFlow's C++ runtime prints oneDNN, CUDA-stub and ``cuInit`` lines to the process's stderr
before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them. Here the
import (and the first device query, which calls ``cuInit``) runs with file descriptor 2
captured; every captured line that is not one of those known start-up notices is written back,
so a real error or warning is never lost. ``IMGEXP_TF_VERBOSE=1`` shows everything."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

VERBOSE_ENV = "IMGEXP_TF_VERBOSE"
# The start-up notices of a CPU-only TensorFlow 2.16+ (one pattern each).
NOISE = re.compile(
    "|".join(
        [
            r"All log messages before absl::InitializeLog\(\) is called",
            r"port\.cc:\d+\] oneDNN custom operations are on",
            r"cudart_stub\.cc:\d+\] Could not find cuda drivers",
            r"cuda_platform\.cc:\d+\] failed call to cuInit",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"computation_placer\.cc:\d+\] computation placer already registered",
            r"This TensorFlow binary is optimized to use available CPU instructions",
            r"To enable the following instructions: .* rebuild TensorFlow",
            r"TF-TRT Warning: Could not find TensorRT",
        ]
    )
)


def import_tensorflow() -> ModuleType:
    """``import tensorflow``, quietly the first time (see the module docstring)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's own Python-side logs
    if os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes"):
        import tensorflow as tf

        return tf
    with stderr_without(NOISE):
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # cuInit runs (and complains) here
    return tf


@contextlib.contextmanager
def stderr_without(noise: re.Pattern[str]) -> Iterator[None]:
    """Capture fd 2 (C++ and Python writes alike); on exit write back the lines that do not
    match ``noise``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured if not noise.search(line.decode(errors="replace"))]
            if kept:
                sys.stderr.buffer.write(b"".join(kept))
                sys.stderr.flush()
