"""The ``trainer.mixed_precision`` switch: a Keras dtype policy, or float32 (with a warning)
where the hardware would make mixed precision slower instead of faster."""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

log = logging.getLogger(__name__)

# Minimum CUDA compute capability with fast float16 / bfloat16 math (tensor cores).
MIN_CAPABILITY = {"mixed_float16": (7, 0), "mixed_bfloat16": (8, 0)}


def gpu_capabilities() -> list[tuple[int, int]]:
    """Compute capability of every visible GPU."""
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    return capabilities


def set_precision(policy: str) -> str:
    """Set the global dtype policy for the models built next; returns the policy in effect."""
    policy = str(getattr(policy, "value", policy))
    if policy in ("none", "float32"):
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    if policy not in MIN_CAPABILITY:
        raise ValueError(f"trainer.mixed_precision={policy!r}: use none, {list(MIN_CAPABILITY)}")
    capabilities = gpu_capabilities()
    needed = MIN_CAPABILITY[policy]
    if not capabilities or min(capabilities) < needed:
        found = ", ".join(f"{a}.{b}" for a, b in capabilities) or "no GPU"
        log.warning(
            "trainer.mixed_precision=%s needs a GPU of compute capability >= %d.%d (found: %s); "
            "training in float32 instead, which is faster here",
            policy,
            *needed,
            found,
        )
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy
