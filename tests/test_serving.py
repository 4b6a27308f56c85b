"""The logged model serves: ``mlflow models serve --env-manager local`` on a free loopback port
answers ``/invocations`` with the probabilities ``imgexp-predict`` prints for the same files."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import store_uri
from PIL import Image

from imgexp.predict import cli, predictor, source

pytestmark = pytest.mark.slow
START_TIMEOUT_S = 180


def free_port() -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def model_server(model_uri: str, tracking_uri: str, log: Path) -> Iterator[str]:
    """Run ``mlflow models serve`` in its own process group until the block ends; yields its
    base URL once ``/ping`` answers."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", model_uri,
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # MLflow starts `uvicorn` by name: the venv's bin must be on PATH even when not activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_uri, PATH=path)
    with log.open("w") as output:
        server = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise AssertionError(f"server exited {server.returncode}:\n{log.read_text()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/ping", timeout=2) as answer,
            ):
                if answer.status == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready in {START_TIMEOUT_S}s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        # The server and its uvicorn worker share the group we created for them.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_served_model_answers_like_imgexp_predict(trained_digits, tmp_path: Path, capsys):
    home, result = trained_digits
    model_uri = f"runs:/{result.run_id}/model"
    rng = np.random.default_rng(3)
    files = []
    for index, (mode, size) in enumerate([("L", (8, 8)), ("RGB", (30, 20)), ("L", (17, 17))]):
        path = tmp_path / f"image_{index}.png"
        Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8), "L").convert(mode).save(
            path
        )
        files.append(path)
    assert cli.main(["--tracking-uri", store_uri(home), model_uri, *map(str, files),
                     "-o", "json", "-k", "10"]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    by_class = [{top["class"]: top["probability"] for top in record["top"]} for record in printed]
    expected = np.array([[row[str(digit)] for digit in range(10)] for row in by_class])
    # The server takes what the model takes: uint8 pixels at its input size, read as predict
    # reads the files.
    loaded = source.load(model_uri, store_uri(home))
    _, pixels, problems = predictor.read_images(loaded, files)
    assert problems == [] and pixels.dtype == np.uint8 and pixels.shape == (3, 8, 8, 1)
    with model_server(model_uri, store_uri(home), tmp_path / "server.log") as url:
        request = urllib.request.Request(
            f"{url}/invocations",
            data=json.dumps({"inputs": pixels.tolist()}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            served = np.array(json.loads(answer.read())["predictions"])
    assert served.shape == (3, 10)
    np.testing.assert_allclose(served, expected, atol=1e-5)
    np.testing.assert_array_equal(served.argmax(axis=1), expected.argmax(axis=1))
