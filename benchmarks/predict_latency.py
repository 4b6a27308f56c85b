"""Prediction latency of a logged imgexp model: a native Keras load and a direct call (what
``imgexp-predict`` does) against ``mlflow.pyfunc`` (``model.predict`` underneath), per batch size.
Trains one small digits model into a throwaway MLflow store first.

    python benchmarks/predict_latency.py [--model mlp|cnn] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from common import machine, print_table


def median_ms(function, repeats: int) -> float:
    """Median wall time of ``function()`` in milliseconds, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--model", default="mlp")
    cli.add_argument("--repeats", type=int, default=30)
    args = cli.parse_args()
    os.environ["IMGEXP_HOME"] = tempfile.mkdtemp(prefix="imgexp-bench-predict-")
    import mlflow
    import numpy as np

    import imgexp
    from imgexp.predict import predictor, source

    result = imgexp.train("dataset=digits", f"model={args.model}", "trainer.epochs=1")
    uri = f"runs:/{result.run_id}/model"
    store = f"sqlite:///{os.environ['IMGEXP_HOME']}/mlflow.db"
    start = time.perf_counter()
    loaded = source.load(uri, store)
    native_load = time.perf_counter() - start
    start = time.perf_counter()
    pyfunc = mlflow.pyfunc.load_model(uri)
    pyfunc_load = time.perf_counter() - start
    rng = np.random.default_rng(0)
    rows = []
    for batch in (1, 4, 32, 256):
        pixels = rng.integers(0, 256, (batch, 8, 8, 1), dtype=np.uint8)
        direct = median_ms(lambda p=pixels: predictor.predict_pixels(loaded, p), args.repeats)
        keras_predict = median_ms(
            lambda p=pixels: loaded.model.predict(p, verbose=0), args.repeats
        )
        through_pyfunc = median_ms(lambda p=pixels: pyfunc.predict(p), args.repeats)
        rows.append([batch, direct, keras_predict, through_pyfunc, through_pyfunc / direct])
    print(f"\n{machine()}; model {args.model} on 8x8 digits; median of {args.repeats} calls")
    print(f"load: native {native_load:.2f} s, pyfunc {pyfunc_load:.2f} s")
    print_table(
        "Prediction latency (ms per call)",
        ["batch", "native direct call", "keras model.predict", "mlflow pyfunc", "pyfunc / direct"],
        rows,
    )


if __name__ == "__main__":
    main()
