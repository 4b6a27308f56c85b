"""Whole-run overhead: imgexp presets against the tutorials' own plain scripts of the same model,
data, batch size and epochs, in one process, alternating. Per-epoch seconds (epoch start to the
next epoch's start, so every per-epoch callback is inside) and start-up seconds (everything
outside the epochs) are reported separately, as wall-clock seconds and as this process's CPU
seconds (all threads): on a machine shared with other jobs the CPU seconds move much less.

    python benchmarks/overhead.py [--epochs 3] [--rounds 2] [--only mlp,loop,folder]

* mlp: ``experiment=fashion_mnist_mlp`` against the article's ``model.fit(x, y)`` script;
* loop: ``experiment=mnist_subclass_cnn`` (``trainer=custom_loop``) on the Fashion-MNIST files
  against the article's own ``tf.GradientTape`` loop;
* folder: ``experiment=chest_xray_cnn`` on a generated folder in the Kaggle chest X-ray layout
  against the article's ``flow_from_directory`` + ``model.fit`` script (Keras 2, ``tf_keras``:
  where ``ImageDataGenerator`` lives; ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import importlib
import time
from dataclasses import dataclass
from pathlib import Path

from common import bench_dir, machine, print_table

FASHION = Path("/usr/share/datasets/fashion-mnist")
XRAY_CLASSES = ("NORMAL", "PNEUMONIA")
STARTS: list[tuple[float, float]] = []  # (wall, CPU) at each epoch start, then at the end
TIMER = "+trainer.callbacks.timer._target_=__main__.epoch_starts"


@dataclass
class Run:
    seconds: float  # the whole call, imports and evaluation included
    epochs: list[float]  # each epoch, start to the next epoch's start
    cpu: list[float]  # the same epochs in CPU seconds
    accuracy: float  # test accuracy at the end


def epoch_starts(library: str = "keras"):
    """A callback appending to ``STARTS`` (``_target_: __main__.epoch_starts`` for imgexp's
    ``trainer.callbacks``; ``library="tf_keras"`` for a Keras 2 script)."""
    keras = importlib.import_module(library)

    class EpochStarts(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            mark()

        def on_train_end(self, logs=None):
            mark()

    STARTS.clear()
    return EpochStarts()


def mark() -> None:
    STARTS.append((time.perf_counter(), time.process_time()))


def finished(start: float, accuracy: float) -> Run:
    pairs = list(zip(STARTS, STARTS[1:], strict=False))
    return Run(time.perf_counter() - start, [b[0] - a[0] for a, b in pairs],
               [b[1] - a[1] for a, b in pairs], float(accuracy))  # fmt: skip


def fashion_arrays():
    """The Fashion-MNIST idx files read into numpy (what ``keras.datasets`` would return)."""
    from imgexp.dataset.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

    def read(prefix):
        return (read_idx(FASHION / f"{prefix}-images-idx3-ubyte.gz", IMAGES_MAGIC),
                read_idx(FASHION / f"{prefix}-labels-idx1-ubyte.gz", LABELS_MAGIC))  # fmt: skip

    return read("train"), read("t10k")


def plain_fit_mlp(epochs: int) -> Run:
    """The Fashion-MNIST MLP of "Building an image classifier using Keras and TensorFlow"
    (https://medium.com/analytics-vidhya/building-image-classifier-using-keras-and-tensorflow-fef21c54732a)
    as a plain script: numpy idx reading, /255, first 5000 as validation."""
    start = time.perf_counter()
    import keras
    import numpy as np

    (x_train, y_train), (x_test, y_test) = fashion_arrays()
    x_train, x_test = x_train.astype(np.float32) / 255, x_test.astype(np.float32) / 255
    x_valid, y_valid = x_train[:5000], y_train[:5000]
    x_train, y_train = x_train[5000:], y_train[5000:]
    keras.utils.set_random_seed(42)
    model = keras.Sequential([
        keras.Input((28, 28)), keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)  # fmt: skip
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0,
              validation_data=(x_valid, y_valid), callbacks=[epoch_starts()])  # fmt: skip
    return finished(start, model.evaluate(x_test, y_test, verbose=0)[1])


def plain_gradient_tape(epochs: int) -> Run:
    """The script of "Using TensorFlow 2.0 to build a CNN for image classification"
    (https://medium.com/analytics-vidhya/using-tensorflow-2-0-to-build-a-cnn-for-image-classification-4e50848ce1c0)
    as written, on the Fashion-MNIST files (MNIST's shapes; MNIST is not on this machine):
    x/255 float32 with a channel axis, from_tensor_slices -> shuffle(0.25 * len) -> batch(32),
    its subclassed Image_CNN, ``@tf.function`` train_step/test_step, Adam, the test set every
    epoch. Keras 3 spellings only (``reset_state``; no ``input_shape=(..., 3)``); its softmax
    output into a ``from_logits=True`` loss is kept (the preset fixes it; the cost is the same)."""
    start = time.perf_counter()
    import keras
    import numpy as np
    import tensorflow as tf
    from keras.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPool2D

    class ImageCNN(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2D(32, 3, strides=1, activation="relu")
            self.conv2 = Conv2D(32, 3, strides=1, activation="relu")
            self.conv3 = Conv2D(32, 5, strides=2, activation="relu")
            self.pool1 = MaxPool2D(pool_size=(2, 2))
            self.batchnorm = BatchNormalization()
            self.dropout40 = Dropout(rate=0.4)
            self.flatten = Flatten()
            self.d128 = Dense(128, activation="relu")
            self.d10softmax = Dense(10, activation="softmax")

        def call(self, x, training=False):
            x = self.conv1(x)
            x = self.pool1(x)
            x = self.conv2(x)
            x = self.pool1(x)
            x = self.conv3(x)
            x = self.batchnorm(x)
            if training:
                x = self.dropout40(x, training=training)
            x = self.flatten(x)
            x = self.d128(x)
            return self.d10softmax(x)

    (x_train, y_train), (x_test, y_test) = fashion_arrays()
    x_train, x_test = x_train / 255.0, x_test / 255.0
    x_train = x_train[..., np.newaxis].astype("float32")
    x_test = x_test[..., np.newaxis].astype("float32")
    shuff_size = int(0.25 * len(y_train))
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(shuff_size).batch(32)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)
    keras.utils.set_random_seed(42)
    model = ImageCNN()
    loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam()
    train_loss, test_loss = keras.metrics.Mean(), keras.metrics.Mean()
    train_accuracy = keras.metrics.SparseCategoricalAccuracy()
    test_accuracy = keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        train_loss(loss)
        train_accuracy(labels, predictions)

    @tf.function
    def test_step(images, labels):
        predictions = model(images, training=False)
        test_loss(loss_object(labels, predictions))
        test_accuracy(labels, predictions)

    STARTS.clear()
    printed = []  # what the article prints after each epoch
    for _ in range(epochs):
        mark()
        for metric in (train_loss, train_accuracy, test_loss, test_accuracy):
            metric.reset_state()
        for images, labels in train_ds:
            train_step(images, labels)
        for test_images, test_labels in test_ds:
            test_step(test_images, test_labels)
        printed.append([float(m.result()) for m in (train_loss, train_accuracy, test_loss,
                                                     test_accuracy)])  # fmt: skip
    mark()
    return finished(start, test_accuracy.result())


def xray_folder(per_class: int, size: tuple[int, int]) -> Path:
    """Generated grayscale JPEGs of ``size`` (width, height) in the Kaggle chest X-ray layout
    ``{train,val,test}/{NORMAL,PNEUMONIA}`` (train ``per_class`` per class, val and test about
    a tenth each, in fives: every split is whole batches of 10, so the article's
    ``samples // batch_size`` leaves no image out; kept between runs). Classes differ in
    brightness, so the model can learn."""
    import numpy as np
    from PIL import Image

    if per_class % 5:
        raise SystemExit(f"--xray-per-class={per_class}: use a multiple of 5 (whole batches)")
    held_out = 5 * max(1, per_class // 50)
    counts = {"train": per_class, "val": held_out, "test": held_out}
    root = bench_dir(f"chest-xray-{size[0]}x{size[1]}-{per_class}")
    if (root / ".complete").exists():
        return root
    rng = np.random.default_rng(0)
    width, height = size
    rows, cols = np.mgrid[0:height, 0:width]
    chest = 120 + 80 * np.cos((cols / width - 0.5) * np.pi) * np.cos((rows / height - 0.5) * 2)
    for split, count in counts.items():
        for label, name in enumerate(XRAY_CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                noise = rng.normal(0, 18, (height, width))
                pixels = np.clip(chest * (0.8 + 0.25 * label) + noise + index % 7, 0, 255)
                Image.fromarray(pixels.astype(np.uint8), "L").save(folder / f"{index:04d}.jpeg",
                                                                    quality=90)  # fmt: skip
    (root / ".complete").touch()
    return root


def plain_flow_from_directory(root: Path, epochs: int) -> Run:
    """The script of "Beginner's guide to CNNs with TensorFlow's Keras API"
    (https://towardsdatascience.com/beginners-guide-to-building-convolutional-neural-networks-using-tensorflow-s-keras-api-in-python-6e8035e28238)
    as written, in Keras 2 (``tf_keras``): ImageDataGenerator(preprocessing_function=vgg16
    preprocess_input).flow_from_directory(224x224, batch 10) for train/val/test,
    Conv32-Pool-Conv64-Pool-Flatten-Dense(2, softmax), Adam(1e-4), categorical cross-entropy,
    ``fit(steps_per_epoch=samples // batch_size, validation_steps=...)``."""
    start = time.perf_counter()
    import tf_keras
    from tf_keras.layers import Conv2D, Dense, Flatten, MaxPool2D
    from tf_keras.preprocessing.image import ImageDataGenerator

    def batches(split: str, **kwargs):
        return ImageDataGenerator(
            preprocessing_function=tf_keras.applications.vgg16.preprocess_input
        ).flow_from_directory(directory=str(root / split), target_size=(224, 224),
                              classes=list(XRAY_CLASSES), batch_size=10, **kwargs)  # fmt: skip

    train_batches, valid_batches = batches("train"), batches("val")
    test_batches = batches("test", shuffle=False)
    tf_keras.utils.set_random_seed(42)
    model = tf_keras.Sequential([
        Conv2D(filters=32, kernel_size=(3, 3), activation="relu", padding="same",
               input_shape=(224, 224, 3)),
        MaxPool2D(pool_size=(2, 2), strides=2),
        Conv2D(filters=64, kernel_size=(3, 3), activation="relu", padding="same"),
        MaxPool2D(pool_size=(2, 2), strides=2),
        Flatten(),
        Dense(units=2, activation="softmax"),
    ])  # fmt: skip
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=0.0001),
                  loss="categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
    batch_size = 10
    model.fit(x=train_batches, steps_per_epoch=train_batches.samples // batch_size,
              epochs=epochs, validation_data=valid_batches,
              validation_steps=valid_batches.samples // batch_size, verbose=0,
              callbacks=[epoch_starts("tf_keras")])  # fmt: skip
    return finished(start, model.evaluate(test_batches, verbose=0)[1])


def with_imgexp(*overrides: str) -> Run:
    start = time.perf_counter()
    import imgexp

    result = imgexp.train(*overrides, "trainer.verbose=0", TIMER)
    return finished(start, result.metrics["test_accuracy"])


def sections(args) -> dict[str, tuple[str, dict]]:
    """Each comparison: its title and its runs (the tutorial's script first)."""
    epochs = f"trainer.epochs={args.epochs}"
    mlp = ("experiment=fashion_mnist_mlp", epochs, f"dataset.data_dir={FASHION}")
    same = ("trainer.steps_per_execution=1", "trainer.jit_compile=false")  # the plain script's
    loop = ("experiment=mnist_subclass_cnn", "dataset=fashion_mnist", epochs,
            f"dataset.data_dir={FASHION}")  # fmt: skip
    width, height = args.xray_size
    folder = lambda: xray_folder(args.xray_per_class, (width, height))  # noqa: E731
    xray = ("experiment=chest_xray_cnn", epochs)
    return {
        "mlp": ("Fashion-MNIST MLP, `model.fit` (experiment=fashion_mnist_mlp)", {
            "the article's script (model.fit(x, y), one step per call)":
                lambda: plain_fit_mlp(args.epochs),
            "imgexp defaults (steps_per_execution=64)": lambda: with_imgexp(*mlp),
            "imgexp, steps_per_execution=1, jit_compile=false": lambda: with_imgexp(*mlp, *same),
        }),
        "loop": ("MNIST subclassed CNN on Fashion-MNIST, GradientTape loop "
                 "(experiment=mnist_subclass_cnn, trainer=custom_loop)", {
            "the article's loop (one tf.function call per batch)":
                lambda: plain_gradient_tape(args.epochs),
            "imgexp defaults (steps_per_execution=64)": lambda: with_imgexp(*loop),
            "imgexp, steps_per_execution=1 (one call per batch)":
                lambda: with_imgexp(*loop, "trainer.steps_per_execution=1"),
        }),
        "folder": (f"Chest X-ray layout, {args.xray_per_class * 2} train JPEGs of "
                   f"{width}x{height} read at 224x224 (experiment=chest_xray_cnn)", {
            "the article's flow_from_directory + model.fit (Keras 2)":
                lambda: plain_flow_from_directory(folder(), args.epochs),
            "imgexp defaults (cache=memory, steps_per_execution=64)":
                lambda: with_imgexp(*xray, f"dataset.data_dir={folder()}"),
        }),
    }  # fmt: skip


def median_later(runs: list[Run], field: str) -> float:
    """The median over every round of epochs 2+ (epoch 1 traces graphs and fills caches)."""
    later = sorted(s for run in runs for s in getattr(run, field)[1:])
    return later[len(later) // 2]


def report(title: str, epochs: int, rounds: int, results: dict[str, list[Run]]) -> None:
    rows = []
    base = None
    for name, runs in results.items():
        wall, cpu = median_later(runs, "epochs"), median_later(runs, "cpu")
        first = min(run.epochs[0] for run in runs)
        startup = min(run.seconds - sum(run.epochs) for run in runs)
        base = base or (wall, cpu)
        accuracy = "/".join(f"{run.accuracy:.4f}" for run in runs)
        rows.append([name, wall, f"**{base[0] / wall:.2f}x**", cpu, f"{base[1] / cpu:.2f}x",
                     first, startup, accuracy])  # fmt: skip
    print_table(f"{title}: {epochs} epochs x {rounds} rounds (median of epochs 2+; epoch 1 and "
                "start-up: best round)",
                ["run", "s/epoch", "speed-up", "CPU s/epoch", "CPU speed-up", "epoch 1 s",
                 "start-up s", "test accuracy"], rows)  # fmt: skip
    for name, runs in results.items():  # the raw figures, to judge the noise
        rounds_text = "; ".join(" ".join(f"{s:.1f}" for s in run.epochs) for run in runs)
        print(f"  {name}: epochs (s) {rounds_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="mlp,loop,folder", help="comma-separated sections")
    parser.add_argument("--xray-per-class", type=int, default=200)
    parser.add_argument("--xray-size", type=lambda v: tuple(int(n) for n in v.split("x")),
                        default=(1280, 1024), help="generated X-ray size, WxH")  # fmt: skip
    args = parser.parse_args()
    import keras
    import tensorflow as tf

    print(f"hardware: {machine()}; TF {tf.__version__}, Keras {keras.__version__}")
    for key, (title, runs) in sections(args).items():
        if key not in args.only.split(","):
            continue
        results = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                results[name].append(run())
        report(title, args.epochs, args.rounds, results)


if __name__ == "__main__":
    main()
