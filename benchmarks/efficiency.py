"""Pipeline efficiency: training-step throughput with imgexp's real input pipeline divided by
the same steps on a batch already materialised in memory (1.0 = the pipeline costs nothing).
Parts: a JPEG folder; generated in-memory arrays (and the same arrays through the MNIST
article's per-example pipeline); the training batches of the array presets (Fashion-MNIST,
MNIST's settings on the Fashion-MNIST files, CIFAR-10's settings on arrays of its shape).

    python benchmarks/efficiency.py [--images 2000] [--target 64] [--rounds 3]
                                    [--only folder,arrays,presets]
"""

from __future__ import annotations

import argparse
import time

from common import bench_dir, generate_jpegs, machine, print_table


def small_cnn(input_shape, num_classes: int):
    import keras

    return keras.Sequential([
        keras.Input(input_shape, dtype="uint8"),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(num_classes, activation="softmax"),
    ])  # fmt: skip


def epoch(model, dataset) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``fit`` epoch; CPU = this process's, all threads (it moves
    far less than wall time when other jobs share the cores)."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(dataset, epochs=1, verbose=0)
    return time.perf_counter() - wall, time.process_time() - cpu


def efficiency(train, input_shape, num_classes: int, rounds: int) -> list[list[object]]:
    """Epoch 1 (tracing; a folder also decodes and fills its cache), then ``rounds``
    alternating epochs on the real pipeline and on one materialised batch repeated as many
    steps. Alternating, and taking the fastest of each, keeps the ratio fair when other
    processes share the cores."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = small_cnn(input_shape, num_classes)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    first = epoch(model, train)
    steps = sum(1 for _ in train)
    images, labels = next(iter(train))
    memory = tf.data.Dataset.from_tensors((images, labels)).repeat(steps)
    epoch(model, memory)  # warm up
    real, in_memory = [], []
    for _ in range(rounds):
        real.append(epoch(model, train))
        in_memory.append(epoch(model, memory))

    def row(label: str, pick, reference) -> list[object]:
        wall, cpu = pick(0), pick(1)
        return [label, wall, f"{reference(0) / wall:.3f}", cpu, f"{reference(1) / cpu:.3f}"]

    def fastest(times):
        return lambda i: min(t[i] for t in times)

    def median(times):
        return lambda i: sorted(t[i] for t in times)[rounds // 2]

    return [
        row("epoch 1", lambda i: first[i], fastest(in_memory)),
        row(f"epochs 2+ (fastest of {rounds})", fastest(real), fastest(in_memory)),
        row(f"epochs 2+ (median of {rounds})", median(real), median(in_memory)),
        row(f"materialised batch (fastest of {rounds})", fastest(in_memory), fastest(in_memory)),
    ]


def preset_train(*overrides: str):
    """A preset's training split exactly as a run builds it, with its batch size."""
    from imgexp.api import compose_config
    from imgexp.dataset.build import build_data

    cfg = compose_config(*overrides)
    bundle = build_data(cfg.dataset, int(cfg.trainer.batch_size), seed=int(cfg.trainer.seed))
    return bundle.train, bundle.input_shape, bundle.num_classes, int(cfg.trainer.batch_size)


def article_arrays(images, labels, batch: int, seed: int, buffer: int):
    """The pipeline of "Using TensorFlow 2.0 to build a CNN for image classification"
    (https://medium.com/analytics-vidhya/using-tensorflow-2-0-to-build-a-cnn-for-image-classification-4e50848ce1c0):
    from_tensor_slices -> shuffle -> batch, per example (plus a prefetch)."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(buffer, seed=seed)
    return dataset.batch(batch).prefetch(tf.data.AUTOTUNE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--target", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--only", default="folder,arrays,presets", help="comma-separated parts")
    args = parser.parse_args()
    import numpy as np

    from imgexp.api import compose_config
    from imgexp.dataset import pipeline

    print(f"hardware: {machine()}")
    parts = args.only.split(",")
    summary = []

    def measure(title: str, train, input_shape, num_classes: int) -> None:
        rows = efficiency(train, input_shape, num_classes, args.rounds)
        print_table(title, ["epochs", "s/epoch", "efficiency", "CPU s/epoch", "CPU efficiency"],
                    rows)  # fmt: skip
        summary.append([title, rows[1][2], rows[2][2], rows[1][4], rows[2][4], rows[0][2]])

    if "folder" in parts:
        root = generate_jpegs(bench_dir(f"jpeg-320x240-{args.images}"), args.images, (320, 240))
        train, shape, classes, _ = preset_train(
            "dataset=image_folder", f"dataset.data_dir={root}",
            f"dataset.image_size=[{args.target},{args.target}]", "dataset.validation.source=none",
            "dataset.test_size=5", f"trainer.batch_size={args.batch}",
        )  # fmt: skip
        measure(f"JPEG folder ({args.images} of 320x240 read at {args.target}x{args.target}, "
                f"batch {args.batch}, small CNN)", train, shape, classes)  # fmt: skip
    if "arrays" in parts:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (20000, 32, 32, 3), dtype=np.uint8)
        labels = np.arange(20000) % 10
        train = pipeline.from_arrays(images, labels, args.batch, training=True, seed=0,
                                     shuffle_buffer=10000)  # fmt: skip
        measure(f"In-memory arrays (20,000x32x32x3, batch {args.batch}, small CNN)",
                train, (32, 32, 3), 10)  # fmt: skip
        measure(f"The same arrays through the MNIST article's from_tensor_slices -> shuffle -> "
                f"batch (batch {args.batch})",
                article_arrays(images, labels, args.batch, 0, 10000), (32, 32, 3), 10)  # fmt: skip
    if "presets" in parts:
        for preset, extra in (
            ("fashion_mnist_mlp", ()),
            ("mnist_subclass_cnn", ("dataset=fashion_mnist",)),  # MNIST's shape and settings
        ):
            train, shape, classes, batch = preset_train(f"experiment={preset}", *extra)
            measure(f"experiment={preset}'s training batches (Fashion-MNIST, batch {batch}, "
                    "small CNN)", train, shape, classes)  # fmt: skip
        # CIFAR-10 is not on this machine: its preset's settings on arrays of its training
        # split's shape (50,000 less the last 3,000 for validation).
        cfg = compose_config("experiment=cifar10_functional_cnn")
        batch, buffer = int(cfg.trainer.batch_size), int(cfg.dataset.shuffle_buffer)
        images = np.random.default_rng(0).integers(0, 256, (47000, 32, 32, 3), dtype=np.uint8)
        train = pipeline.from_arrays(images, np.arange(47000) % 10, batch, training=True,
                                     seed=0, shuffle_buffer=buffer)  # fmt: skip
        measure(f"experiment=cifar10_functional_cnn's settings on 47,000 generated 32x32x3 "
                f"(batch {batch}, small CNN)", train, (32, 32, 3), 10)  # fmt: skip
    print_table("Summary: efficiency (1.0 = the input costs nothing)",
                ["data", "epochs 2+ fastest", "median", "CPU: fastest", "CPU: median",
                 "epoch 1"], summary)  # fmt: skip


if __name__ == "__main__":
    main()
