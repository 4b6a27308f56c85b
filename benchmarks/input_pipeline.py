"""Input pipeline alone: images/s of imgexp's tf.data pipelines (in-memory arrays and a JPEG
folder, first and second pass), side by side with Keras 2's ``ImageDataGenerator``
(``tf_keras``, install the ``bench`` extra) and Keras 3's ``image_dataset_from_directory`` on the
same folder and image size.

    python benchmarks/input_pipeline.py [--images 2000] [--size 320x240] [--target 200]
"""

from __future__ import annotations

import argparse

from common import (
    bench_dir,
    count_batches,
    generate_jpegs,
    machine,
    print_table,
    timed,
)


def imgexp_folder(root, target: int, batch: int):
    """The training split of ``dataset=image_folder`` exactly as a run builds it."""
    from imgexp.api import compose_config
    from imgexp.dataset.build import build_data

    cfg = compose_config(
        "dataset=image_folder", f"dataset.data_dir={root}",
        f"dataset.image_size=[{target},{target}]", "dataset.validation.source=none",
        "dataset.test_size=5",
    )  # fmt: skip
    return build_data(cfg.dataset, batch, seed=0).train


def idg_generator(root, target: int, batch: int):
    """Keras 2's ImageDataGenerator(rescale=1/255).flow_from_directory, as "Beginner's guide to
    CNNs with TensorFlow's Keras API" and "A single function to streamline image classification
    with Keras" use (links in experiments/README.md)."""
    from tf_keras.preprocessing.image import ImageDataGenerator

    return ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        str(root), target_size=(target, target), batch_size=batch, class_mode="sparse",
        shuffle=True, seed=0,
    )  # fmt: skip


def one_pass(generator) -> int:
    """One epoch of a Keras 2 iterator (it never ends by itself)."""
    total = 0
    for _ in range(len(generator)):
        _, labels = next(generator)
        total += len(labels)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", default="320x240", help="generated JPEG size, WxH")
    parser.add_argument("--target", type=int, default=200, help="square size read at")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    root = generate_jpegs(bench_dir(f"jpeg-{width}x{height}-{args.images}"), args.images,
                          (width, height))  # fmt: skip
    import keras
    import numpy as np
    import tensorflow as tf

    from imgexp.dataset import pipeline

    print(f"hardware: {machine()}; TF {tf.__version__}, Keras {keras.__version__}")
    print(f"folder: {args.images} JPEGs of {width}x{height} in {root}, read at "
          f"{args.target}x{args.target}, batch {args.batch}")  # fmt: skip
    rows = []
    # In memory: CIFAR-10-shaped uint8 arrays through the array pipeline.
    images = np.random.default_rng(0).integers(0, 256, (50000, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(50000) % 10
    arrays = pipeline.from_arrays(images, labels, args.batch, training=True, seed=0,
                                  shuffle_buffer=10000)  # fmt: skip
    for label in ("pass 1", "pass 2"):
        seconds, count = timed(lambda: count_batches(arrays))
        rows.append(["imgexp, in-memory 50,000x32x32x3", label, count / seconds, "-"])

    idg = idg_generator(root, args.target, args.batch)
    idg_rates = []
    for _ in range(2):
        seconds, count = timed(lambda: one_pass(idg))
        idg_rates.append(count / seconds)
    # The set-up (PIL check + sha256 of every file, splits, digest) happens once per run,
    # before pass 1; IDG has none, so pass 1 is also reported with it included.
    setup, folder = timed(lambda: imgexp_folder(root, args.target, args.batch))
    passes = [timed(lambda: count_batches(folder)) for _ in range(2)]
    ours = [count / seconds for seconds, count in passes]
    with_setup = passes[0][1] / (passes[0][0] + setup)
    # A later run on the same folder (a sweep's next job): the scan comes from its cache.
    warm_setup, folder = timed(lambda: imgexp_folder(root, args.target, args.batch))
    warm_seconds, warm_count = timed(lambda: count_batches(folder))
    warm = warm_count / (warm_seconds + warm_setup)
    ids = keras.utils.image_dataset_from_directory(
        str(root),
        image_size=(args.target, args.target),
        batch_size=args.batch,
        seed=0,
        verbose=False,
    ).prefetch(tf.data.AUTOTUNE)
    keras3 = [count / seconds for seconds, count in
              (timed(lambda: count_batches(ids)) for _ in range(2))]  # fmt: skip
    rows.append([f"imgexp, JPEG folder, set-up {setup:.2f} s included (first run)", "pass 1",
                 with_setup, f"{with_setup / idg_rates[0]:.2f}x"])  # fmt: skip
    rows.append([f"imgexp, JPEG folder, set-up {warm_setup:.2f} s included (later run)",
                 "pass 1", warm, f"{warm / idg_rates[0]:.2f}x"])  # fmt: skip
    for index, label in enumerate(("pass 1", "pass 2")):
        rows.append(["imgexp, JPEG folder", label, ours[index],
                     f"{ours[index] / idg_rates[index]:.2f}x"])  # fmt: skip
        rows.append(["Keras 3 image_dataset_from_directory", label, keras3[index],
                     f"{keras3[index] / idg_rates[index]:.2f}x"])  # fmt: skip
        rows.append(["Keras 2 ImageDataGenerator.flow_from_directory", label, idg_rates[index],
                     "1.00x"])  # fmt: skip
    print_table("Input pipeline alone (images/s)",
                ["pipeline", "pass", "images/s", "vs ImageDataGenerator"], rows)  # fmt: skip


if __name__ == "__main__":
    main()
