"""Pipeline efficiency: training-step throughput with imgexp's real input pipeline divided by
the same steps on a batch already materialised in memory (1.0 = the pipeline costs nothing).

    python benchmarks/efficiency.py [--images 2000] [--target 64] [--rounds 3]
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


def efficiency(train, input_shape, num_classes: int, rounds: int) -> list[list[object]]:
    """Epoch 1 (decode + cache fill), then ``rounds`` alternating epochs on the real pipeline
    and on one materialised batch repeated as many steps. Alternating, and taking the fastest
    of each, keeps the ratio fair when other processes share the cores."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = small_cnn(input_shape, num_classes)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    first = time.perf_counter()
    model.fit(train, epochs=1, verbose=0)
    first = time.perf_counter() - first
    steps = sum(1 for _ in train)
    images, labels = next(iter(train))
    memory = tf.data.Dataset.from_tensors((images, labels)).repeat(steps)
    model.fit(memory, epochs=1, verbose=0)  # warm up
    real, in_memory = [], []
    for _ in range(rounds):
        for dataset, times in ((train, real), (memory, in_memory)):
            start = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0)
            times.append(time.perf_counter() - start)
    best = min(in_memory)
    return [
        ["epoch 1 (decode, fill cache)", first, f"{best / first:.3f}"],
        [f"epochs 2+ (fastest of {rounds})", min(real), f"{best / min(real):.3f}"],
        [f"epochs 2+ (median of {rounds})", sorted(real)[rounds // 2],
         f"{sorted(in_memory)[rounds // 2] / sorted(real)[rounds // 2]:.3f}"],
        [f"materialised batch (fastest of {rounds})", best, "1.000"],
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--target", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    root = generate_jpegs(bench_dir(f"jpeg-320x240-{args.images}"), args.images, (320, 240))
    import numpy as np

    from imgexp.api import compose_config
    from imgexp.dataset import pipeline
    from imgexp.dataset.build import build_data

    print(f"hardware: {machine()}")
    cfg = compose_config(
        "dataset=image_folder", f"dataset.data_dir={root}",
        f"dataset.image_size=[{args.target},{args.target}]", "dataset.validation.source=none",
        "dataset.test_size=5",
    )  # fmt: skip
    bundle = build_data(cfg.dataset, args.batch, seed=0)
    rows = efficiency(bundle.train, bundle.input_shape, bundle.num_classes, args.rounds)
    print_table(
        f"JPEG folder ({args.images} of 320x240 read at {args.target}x{args.target}, "
        f"batch {args.batch}, small CNN)",
        ["epochs", "seconds/epoch", "efficiency"],
        rows,
    )
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20000, 32, 32, 3), dtype=np.uint8)
    train = pipeline.from_arrays(images, np.arange(20000) % 10, args.batch, training=True,
                                 seed=0, shuffle_buffer=10000)  # fmt: skip
    rows = efficiency(train, (32, 32, 3), 10, args.rounds)
    print_table(f"In-memory arrays (20,000x32x32x3, batch {args.batch}, small CNN)",
                ["epochs", "seconds/epoch", "efficiency"], rows)  # fmt: skip


if __name__ == "__main__":
    main()
