"""Pixel preprocessing as Keras layers at the model's input, so it travels with the saved model:
predicting on a raw photo later applies exactly the steps the run trained with."""

from __future__ import annotations

import keras
import numpy as np
from omegaconf import DictConfig

VGG16_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="imgexp")
class VGG16Preprocess(keras.layers.Layer):
    """``keras.applications.vgg16.preprocess_input`` as a layer: RGB->BGR, minus ImageNet mean."""

    def call(self, inputs):
        images = keras.ops.cast(inputs, self.compute_dtype)
        if images.shape[-1] == 3:
            images = keras.ops.flip(images, axis=-1)
            return images - keras.ops.convert_to_tensor(VGG16_BGR_MEAN, self.compute_dtype)
        return images - VGG16_BGR_MEAN[0]


def preprocessing_layers(cfg: DictConfig, adapt_data: object | None) -> list[keras.Layer]:
    """Layers for ``dataset.preprocessing`` (+ ``dataset.normalize``), adapted to train data."""
    layers: list[keras.Layer] = []
    if cfg.preprocessing == "rescale":
        layers.append(keras.layers.Rescaling(1.0 / 255, name="rescale"))
    elif cfg.preprocessing == "vgg16":
        layers.append(VGG16Preprocess(name="vgg16_preprocess"))
    if cfg.normalize:
        if adapt_data is None:
            raise ValueError("dataset.normalize=true needs training data to adapt to")
        normalization = keras.layers.Normalization(axis=-1, name="featurewise_normalization")
        # Statistics come from the training split only ("How to build a CNN from scratch using
        # tf.keras (functional API)" fitted them on val/test:
        # https://towardsdatascience.com/how-to-build-a-convolutional-neural-network-from-scratch-using-tf-keras-for-image-classification-ee4482de8453).
        normalization.adapt(prepared_for_adapt(adapt_data, layers))
        layers.append(normalization)
    return layers


def prepared_for_adapt(adapt_data, layers: list[keras.Layer]):
    """Training images as the Normalization layer will see them (after ``layers``): a float
    array for in-memory data, or a mapped tf.data dataset of batches for folder datasets (whose
    images are decoded batch by batch, never all at once)."""
    import tensorflow as tf

    def apply(images):
        images = tf.cast(images, tf.float32)
        for layer in layers:
            images = layer(images)
        return images

    if isinstance(adapt_data, tf.data.Dataset):
        return adapt_data.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return keras.ops.convert_to_numpy(apply(np.asarray(adapt_data)))
