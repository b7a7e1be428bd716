"""Which Keras backend trains, on which device, in which precision.

The same `python -m fer_core.train` runs on this project's CPU machines (Keras on TensorFlow, which the
TFLite conversion needs anyway) and on a GPU machine that has PyTorch but no TensorFlow (Keras on torch).
Keras reads its backend once, when it is first imported, so the choice is made here, before any training
module imports Keras: KERAS_BACKEND if set, else TensorFlow if installed, else torch, else JAX.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from .config import TrainingError

BACKENDS = ("tensorflow", "torch", "jax")


def select_backend() -> str:
    """Set KERAS_BACKEND (unless the user or an earlier import did) and return the backend Keras will use."""
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    chosen = os.environ.get("KERAS_BACKEND")
    if not chosen:
        chosen = next((b for b in BACKENDS if importlib.util.find_spec(b) is not None), "tensorflow")
        os.environ["KERAS_BACKEND"] = chosen
    if chosen == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return chosen


def configure_tensorflow(input_size: int) -> None:
    """oneDNN on at 48x48 and below (1.8x faster here), off above (its kernels segfault at 64x64).

    TensorFlow reads the switch once, at import; if it is already loaded with oneDNN on, training above 48
    pixels is refused with a message rather than a crash that takes the process (maybe the dashboard) down.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1" if input_size <= 48 else "0")
    elif input_size > 48 and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
        raise TrainingError(f"Training at {input_size}x{input_size} needs TensorFlow's oneDNN kernels off, but "
                            "TensorFlow is already loaded with them on; restart with TF_ENABLE_ONEDNN_OPTS=0.")


def accelerator() -> str | None:
    """The name of the GPU Keras trains on, or None on a CPU (call after Keras is imported)."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return None
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick its fastest kernels once
        return torch.cuda.get_device_name(0)
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return gpus[0].name if gpus else None
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return str(gpus[0]) if gpus else None
    return None


def set_precision(requested: str) -> str:
    """Apply a Keras dtype policy; "auto" is mixed bfloat16 on a GPU and float32 on a CPU."""
    import keras

    policy = requested
    if requested == "auto":
        policy = "mixed_bfloat16" if accelerator() else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy
