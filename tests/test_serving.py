"""The logged model serves images: ``mlflow models serve --env-manager local`` on a free loopback
port takes base64 JPEG, PNG and WebP files of any size and mode (and still uint8 pixels) at
``/invocations`` and answers the class names and probabilities ``imgexp-predict`` prints for the
same files; a row that is no image is a 400 naming it. The same pyfunc model loaded in-process
(`imgexp.predict.serving`) is checked without a server."""

from __future__ import annotations

import base64
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

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers import store_uri
from mlflow.exceptions import MlflowException
from PIL import Image

from imgexp.cli import predict_command as cli
from imgexp.predict import predictor, source

START_TIMEOUT_S = 180
# (file name, Pillow mode, size, save options): odd sizes, colour, gray and palette images.
IMAGES = [
    ("photo.jpg", "RGB", (37, 23), {"quality": 90}),
    ("palette.png", "P", (19, 31), {}),
    ("gray.webp", "L", (45, 45), {"quality": 80}),
    ("gray.png", "L", (8, 8), {}),
]


def write_images(folder: Path) -> list[Path]:
    """Real digits (sklearn's) saved as `IMAGES`: resized, converted, in each format."""
    from sklearn.datasets import load_digits

    digits = np.round(load_digits().images[: len(IMAGES)] * 255 / 16).astype(np.uint8)
    files = []
    for pixels, (name, mode, size, options) in zip(digits, IMAGES, strict=True):
        image = Image.fromarray(pixels, "L").resize(size, Image.Resampling.BILINEAR)
        if mode == "RGB":  # a coloured digit
            image = Image.merge("RGB", [image, image.point(lambda v: v // 2), image])
        image.convert(mode).save(folder / name, **options)
        files.append(folder / name)
    return files


def base64_of(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def probabilities_of(answer, class_names: list[str]) -> np.ndarray:
    """The ``probabilities`` column of an answer (DataFrame or JSON records) in class order."""
    rows = answer["probabilities"] if isinstance(answer, pd.DataFrame) else answer
    rows = [row.get("probabilities", row) for row in rows]
    return np.array([[row[name] for name in class_names] for row in rows])


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


def test_pyfunc_model_takes_base64_images_and_pixels(trained_digits, tmp_path: Path) -> None:
    """In-process: what the server calls, without the server."""
    home, result = trained_digits
    model_uri = f"runs:/{result.run_id}/model"
    mlflow.set_tracking_uri(store_uri(home))
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    assert pyfunc.loader_module == "imgexp.predict.serving"
    assert pyfunc.metadata.get_input_schema() is None  # both request kinds reach the model
    assert pyfunc.metadata.metadata["pixels"] == {"dtype": "uint8", "shape": [-1, 8, 8, 1]}
    loaded = source.load(model_uri, store_uri(home))  # the tensorflow flavor still loads natively
    files = write_images(tmp_path)
    predictions, problems = predictor.predict_files(loaded, files)
    assert problems == []
    expected = np.stack([prediction.probabilities for prediction in predictions])

    answer = pyfunc.predict(pd.DataFrame({"image": [base64_of(path) for path in files]}))
    assert list(answer.columns) == ["class", "probability", "probabilities"]
    np.testing.assert_allclose(probabilities_of(answer, loaded.class_names), expected, atol=1e-5)
    assert list(answer["class"]) == [loaded.class_names[i] for i in expected.argmax(axis=1)]
    np.testing.assert_allclose(answer["probability"], expected.max(axis=1), atol=1e-5)
    raw = pyfunc.predict(pd.DataFrame({"file": [path.read_bytes() for path in files]}))
    np.testing.assert_allclose(probabilities_of(raw, loaded.class_names), expected, atol=1e-5)
    _, pixels, _ = predictor.read_images(loaded, files)
    from_pixels = pyfunc.predict(pixels.astype(np.int64))  # as JSON numbers arrive
    np.testing.assert_allclose(
        probabilities_of(from_pixels, loaded.class_names), expected, atol=1e-5
    )

    not_an_image = base64.b64encode(b"hello, not an image").decode()
    bad_requests = [
        (pd.DataFrame({"image": [base64_of(files[0]), not_an_image]}), "row 1: not an image"),
        (pd.DataFrame({"image": ["%%% not base64"]}), "row 0: not base64"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), "expected one column 'image'"),
        (np.zeros((1, 9, 9, 1), np.uint8), r"the model takes \(N, 8, 8, 1\)"),
        (np.full((1, 8, 8, 1), 300), "integers from 0 to 255"),
    ]
    for request, message in bad_requests:
        with pytest.raises(MlflowException, match=message):
            pyfunc.predict(request)


@pytest.mark.slow
def test_served_model_answers_like_imgexp_predict(trained_digits, tmp_path: Path, capsys):
    home, result = trained_digits
    model_uri = f"runs:/{result.run_id}/model"
    files = write_images(tmp_path)
    assert cli.main(["--tracking-uri", store_uri(home), model_uri, *map(str, files),
                     "-o", "json", "-k", "10"]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    by_class = [{top["class"]: top["probability"] for top in record["top"]} for record in printed]
    names = [str(digit) for digit in range(10)]
    expected = np.array([[row[name] for name in names] for row in by_class])
    # The pixels imgexp predict reads from the files: the other request the server takes.
    loaded = source.load(model_uri, store_uri(home))
    _, pixels, problems = predictor.read_images(loaded, files)
    assert problems == [] and pixels.dtype == np.uint8 and pixels.shape == (4, 8, 8, 1)
    images = {"dataframe_split": {"columns": ["image"], "data": [[base64_of(f)] for f in files]}}
    not_an_image = base64.b64encode(b"GIF89a? no").decode()
    bad = {
        "dataframe_split": {"columns": ["image"], "data": [[base64_of(files[0])], [not_an_image]]}
    }
    with model_server(model_uri, store_uri(home), tmp_path / "server.log") as url:
        status, served_images = post(url, images)
        assert status == 200, served_images
        status, error = post(url, bad)
        assert status == 400 and "row 1: not an image" in error["message"], error
        status, served_pixels = post(url, {"inputs": pixels.tolist()})  # still serving
        assert status == 200, served_pixels
    records = served_images["predictions"]
    assert [record["class"] for record in records] == [names[i] for i in expected.argmax(axis=1)]
    np.testing.assert_allclose(probabilities_of(records, names), expected, atol=1e-5)
    np.testing.assert_allclose(
        [r["probability"] for r in records], expected.max(axis=1), atol=1e-5
    )
    np.testing.assert_allclose(
        probabilities_of(served_pixels["predictions"], names), expected, atol=1e-5
    )


def post(url: str, payload: dict) -> tuple[int, dict]:
    """POST JSON to ``/invocations``: the status and the JSON answered (an error's too)."""
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
