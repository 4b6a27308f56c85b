"""The in-memory arrays pipeline (`imgexp.dataset.pipeline.from_arrays`): batches gathered from
a shuffled index must still hold every example exactly once per epoch, each image with its own
label, in a seeded order that a rebuilt pipeline repeats and the next epoch reshuffles."""

from __future__ import annotations

import numpy as np

from imgexp.dataset import pipeline

COUNT, BATCH = 50, 8


def epochs_of(dataset, epochs: int = 2) -> list[np.ndarray]:
    """The labels of each epoch in order, checking every image matches its label."""
    orders = []
    for _ in range(epochs):
        labels = []
        for images, batch_labels in dataset:
            assert images.dtype == "uint8" and images.shape[1:] == (3, 2, 1)
            np.testing.assert_array_equal(images.numpy()[:, 0, 0, 0], batch_labels.numpy())
            labels.append(batch_labels.numpy())
        assert [len(b) for b in labels] == [BATCH] * (COUNT // BATCH) + [COUNT % BATCH]
        orders.append(np.concatenate(labels))
    return orders


def arrays(training: bool, seed: int = 3):
    images = (
        np.zeros((COUNT, 3, 2, 1), np.uint8)
        + np.arange(COUNT, dtype=np.uint8)[:, None, None, None]
    )
    images.setflags(write=False)  # as the idx loaders return them (np.frombuffer)
    return pipeline.from_arrays(images, np.arange(COUNT), BATCH, training=training, seed=seed,
                                shuffle_buffer=20)  # fmt: skip


def test_training_batches_hold_every_example_once_in_a_seeded_reshuffled_order() -> None:
    first, second = epochs_of(arrays(training=True))
    for order in (first, second):
        assert sorted(order) == list(range(COUNT))
    assert not np.array_equal(first, second)  # reshuffled each epoch
    again = epochs_of(arrays(training=True))
    np.testing.assert_array_equal(again[0], first)  # the same seed, the same orders
    np.testing.assert_array_equal(again[1], second)
    assert not np.array_equal(epochs_of(arrays(training=True, seed=4))[0], first)


def test_evaluation_batches_keep_the_arrays_order_and_resizing_keeps_the_count() -> None:
    for order in epochs_of(arrays(training=False)):
        np.testing.assert_array_equal(order, np.arange(COUNT))
    images = np.full((COUNT, 3, 2, 1), 200, np.uint8)
    resized = pipeline.from_arrays(images, np.arange(COUNT), BATCH, training=False, seed=0,
                                   shuffle_buffer=1, image_size=(6, 4))  # fmt: skip
    batches = list(resized)
    assert sum(len(labels) for _, labels in batches) == COUNT
    assert batches[0][0].shape[1:] == (6, 4, 1) and int(batches[0][0].numpy().min()) == 200
