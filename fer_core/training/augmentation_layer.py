"""The augmentation as a Keras layer: batched tensor ops that run where the model runs.

On the GPU machine (Keras on torch) a per-image NumPy/OpenCV loop would starve the accelerator, so the
augmentation is part of the training model and works on whole batches on the device; on the CPU (Keras on
TensorFlow) the same layer runs inside the compiled training step. Only `keras.ops` is used, so one code
path serves every backend (Keras's own affine transform loops over the batch in Python on torch).

Importing this module imports Keras: the training loop imports it only after choosing the backend.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from .augmentation import PRESETS, AugmentConfig


def _reflect(index: Any, size: int) -> Any:
    """Mirror integer pixel indices into [0, size) the way OpenCV's BORDER_REFLECT_101 does."""
    period = 2 * (size - 1)
    index = ops.mod(ops.abs(index), period)
    return ops.where(index > size - 1, period - index, index)


@keras.saving.register_keras_serializable(package="fer_core")
class FaceAugmentation(keras.layers.Layer):
    """Random flip + affine warp + photometric jitter + erasing, for (N, S, S, 1) faces in [-1, 1]."""

    def __init__(self, config: dict[str, Any] | None = None, seed: int | None = None, **kwargs: Any):
        kwargs.setdefault("dtype", "float32")  # geometry in float32 even under mixed precision
        super().__init__(**kwargs)
        self.config = dict(config or AugmentConfig().to_json())
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"config": self.config, "seed": self.seed}

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def _uniform(self, shape: Any, low: float, high: float) -> Any:
        return keras.random.uniform(shape, low, high, seed=self.seed_generator)

    def call(self, faces: Any, training: bool | None = None) -> Any:
        if not training:
            return faces
        c = self.config
        size = int(faces.shape[1])
        n = ops.shape(faces)[0]
        x = self._warp(faces, n, size, c)
        if c.get("lowres", 0) > 0:
            x = self._lowres(x, n, size, c["lowres"])
        if c.get("blur", 0) > 0:
            x = self._blur(x, n, c["blur"])
        x = self._jitter(x, n, c)
        if c["erase"] > 0:
            x = self._erase(x, n, size, c)
        return ops.clip(x, -1.0, 1.0)

    def _warp(self, faces: Any, n: Any, size: int, c: dict[str, Any]) -> Any:
        """One bilinear resampling for mirror, rotation, zoom and shift (inverse mapping, mirrored borders)."""
        mirror = ops.where(self._uniform((n, 1, 1), 0.0, 1.0) < c["flip"], -1.0, 1.0)
        angle = self._uniform((n, 1, 1), -1.0, 1.0) * (c["rotate"] * math.pi / 180.0)
        zoom = 1.0 + self._uniform((n, 1, 1), -c["zoom"], c["zoom"])
        shift_x = self._uniform((n, 1, 1), -c["shift"], c["shift"]) * size
        shift_y = self._uniform((n, 1, 1), -c["shift"], c["shift"]) * size
        centre = (size - 1) / 2.0
        grid = ops.arange(size, dtype="float32") - centre
        dx = ops.reshape(grid, (1, 1, size)) * mirror          # output column offsets (mirrored per face)
        dy = ops.reshape(grid, (1, size, 1))
        cos, sin = ops.cos(angle) / zoom, ops.sin(angle) / zoom
        src_x = cos * dx - sin * dy + centre + shift_x          # (n, size, size) source coordinates
        src_y = sin * dx + cos * dy + centre + shift_y
        x0, y0 = ops.floor(src_x), ops.floor(src_y)
        fx, fy = src_x - x0, src_y - y0
        x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
        flat = ops.reshape(faces, (n, size * size))

        def sample(yi: Any, xi: Any) -> Any:
            idx = _reflect(yi, size) * size + _reflect(xi, size)
            return ops.reshape(ops.take_along_axis(flat, ops.reshape(idx, (n, size * size)), axis=1),
                               (n, size, size))

        top = sample(y0, x0) * (1 - fx) + sample(y0, x0 + 1) * fx
        bottom = sample(y0 + 1, x0) * (1 - fx) + sample(y0 + 1, x0 + 1) * fx
        return ops.expand_dims(top * (1 - fy) + bottom * fy, -1)

    def _chosen(self, n: Any, probability: float) -> Any:
        return self._uniform((n, 1, 1, 1), 0.0, 1.0) < probability

    def _lowres(self, x: Any, n: Any, size: int, probability: float) -> Any:
        """Half resolution and back (area down, bilinear up) for the chosen faces."""
        half = max(2, size // 2)
        small = ops.image.resize(x, (half, half), interpolation="area")
        return ops.where(self._chosen(n, probability), ops.image.resize(small, (size, size)), x)

    def _blur(self, x: Any, n: Any, probability: float) -> Any:
        """A separable 5-tap Gaussian with a random sigma per face, edges repeated, for the chosen faces."""
        sigma = self._uniform((n, 1, 1, 1), 0.5, 1.5)
        taps = [ops.exp(-(k * k) / (2.0 * sigma * sigma)) for k in range(-2, 3)]
        total = taps[0] + taps[1] + taps[2] + taps[3] + taps[4]

        def along(v: Any, axis: int) -> Any:
            padded = ops.concatenate([ops.take(v, [0, 0], axis=axis), v, ops.take(v, [-1, -1], axis=axis)], axis=axis)
            length = v.shape[axis]
            out = 0.0
            for i, tap in enumerate(taps):
                part = padded[:, i:i + length, :, :] if axis == 1 else padded[:, :, i:i + length, :]
                out = out + tap * part
            return out / total

        return ops.where(self._chosen(n, probability), along(along(x, 1), 2), x)

    def _jitter(self, x: Any, n: Any, c: dict[str, Any]) -> Any:
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        contrast = 1.0 + self._uniform((n, 1, 1, 1), -c["contrast"], c["contrast"])
        brightness = self._uniform((n, 1, 1, 1), -c["brightness"], c["brightness"]) * 2.0  # [-1, 1] spans 2
        return (x - mean) * contrast + mean + brightness

    def _erase(self, x: Any, n: Any, size: int, c: dict[str, Any]) -> Any:
        low, high = c["erase_area"]
        area = self._uniform((n, 1, 1, 1), low, high) * size * size
        aspect = ops.exp(self._uniform((n, 1, 1, 1), math.log(0.3), math.log(3.3)))
        h = ops.minimum(ops.sqrt(area * aspect), size - 1.0)
        w = ops.minimum(ops.sqrt(area / aspect), size - 1.0)
        top = self._uniform((n, 1, 1, 1), 0.0, 1.0) * (size - h)
        left = self._uniform((n, 1, 1, 1), 0.0, 1.0) * (size - w)
        rows = ops.reshape(ops.arange(size, dtype="float32"), (1, size, 1, 1))
        cols = ops.reshape(ops.arange(size, dtype="float32"), (1, 1, size, 1))
        chosen = self._uniform((n, 1, 1, 1), 0.0, 1.0) < c["erase"]
        inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w) & chosen
        noise = self._uniform(ops.shape(x), -1.0, 1.0)
        return ops.where(inside, noise, x)


def augmentation_layer(preset: str, seed: int | None = None) -> FaceAugmentation | None:
    """The layer for a named preset (None for "none")."""
    cfg = PRESETS[preset]
    return None if cfg is None else FaceAugmentation(cfg.to_json(), seed=seed, name="augment")
