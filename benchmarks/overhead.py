"""Whole-run overhead: ``imgexp experiment=fashion_mnist_mlp`` against a plain Keras script of
the same model, data, batch size and epochs, in one process, alternating. Per-epoch seconds and
start-up seconds (everything outside the epochs) are reported separately.

    python benchmarks/overhead.py [--epochs 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import time

import common
from common import machine, print_table

FASHION = "/usr/share/datasets/fashion-mnist"
SAME = ["trainer.steps_per_execution=1", "trainer.jit_compile=false"]  # the plain script's


def plain_keras(epochs: int) -> tuple[float, list[float]]:
    """The Fashion-MNIST MLP of "Building an image classifier using Keras and TensorFlow"
    (https://medium.com/analytics-vidhya/building-image-classifier-using-keras-and-tensorflow-fef21c54732a)
    as a plain script: numpy idx reading, /255, first 5000 as validation."""
    start = time.perf_counter()
    import keras
    import numpy as np

    from imgexp.dataset.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

    def read(prefix):
        x = read_idx(__import__("pathlib").Path(f"{FASHION}/{prefix}-images-idx3-ubyte.gz"),
                     IMAGES_MAGIC)  # fmt: skip
        y = read_idx(__import__("pathlib").Path(f"{FASHION}/{prefix}-labels-idx1-ubyte.gz"),
                     LABELS_MAGIC)  # fmt: skip
        return x.astype(np.float32) / 255, y.astype(np.int64)

    (x_train, y_train), (x_test, y_test) = read("train"), read("t10k")
    x_valid, y_valid, x_train, y_train = (
        x_train[:5000],
        y_train[:5000],
        x_train[5000:],
        y_train[5000:],
    )
    keras.utils.set_random_seed(42)
    model = keras.Sequential([
        keras.Input((28, 28)), keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)  # fmt: skip
    timer = common.epoch_timer_class()
    timer.seconds = []
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0,
              validation_data=(x_valid, y_valid), callbacks=[timer()])  # fmt: skip
    model.evaluate(x_test, y_test, verbose=0)
    return time.perf_counter() - start, list(timer.seconds)


def with_imgexp(epochs: int, *extra: str) -> tuple[float, list[float]]:
    start = time.perf_counter()
    import imgexp

    timer = "+trainer.callbacks.timer._target_=common.EpochTimer"
    imgexp.train("experiment=fashion_mnist_mlp", f"trainer.epochs={epochs}",
                 f"dataset.data_dir={FASHION}", timer, *extra)  # fmt: skip
    return time.perf_counter() - start, list(common.LAST_TIMER.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"hardware: {machine()}")
    quiet = ("trainer.verbose=0", "~trainer.callbacks.terminate_on_nan")
    runs = {
        "plain Keras script (article: steps_per_execution=1)": lambda: plain_keras(args.epochs),
        "imgexp experiment=fashion_mnist_mlp (defaults)": lambda: with_imgexp(args.epochs),
        "imgexp, the script's settings": lambda: with_imgexp(args.epochs, *SAME),
        "imgexp, the script's settings, verbose=0, no TerminateOnNaN": lambda: with_imgexp(
            args.epochs, *SAME, *quiet
        ),
    }
    results = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            results[name].append(run())
    rows = []
    base = None
    for name, runs in results.items():
        epochs = sorted(s for _, seconds in runs for s in seconds[1:])  # epoch 1 traces graphs
        per_epoch = epochs[len(epochs) // 2]
        startup = min(total - sum(seconds) for total, seconds in runs)
        base = base or per_epoch
        rows.append([name, per_epoch, f"{per_epoch / base:.3f}", startup])
    print_table(f"Fashion-MNIST MLP, {args.epochs} epochs x {args.rounds} rounds (median epoch "
                "2+; start-up = run time outside the epochs, best round)",
                ["run", "seconds/epoch", "ratio", "start-up s"], rows)  # fmt: skip


if __name__ == "__main__":
    main()
