"""Training-time augmentation of grayscale faces, in NumPy/OpenCV (cheap next to a training step on CPU).

One random affine warp per face (horizontal flip, shift, small rotation and zoom, reflected borders), then
brightness and contrast jitter, then random erasing (a rectangle of noise). Output is float32 in [-1, 1],
shape (N, size, size, 1), the scaling every model in the registry expects.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    flip: float = 0.5          # probability of a horizontal mirror
    shift: float = 0.1         # max shift, fraction of the side
    rotate: float = 10.0       # max rotation, degrees
    zoom: float = 0.1          # max zoom in/out, fraction
    brightness: float = 0.2    # max brightness offset, fraction of 255
    contrast: float = 0.2      # max contrast change, fraction
    erase: float = 0.25        # probability of random erasing
    erase_area: tuple[float, float] = (0.02, 0.15)

    def to_json(self) -> dict:
        return asdict(self)


PRESETS: dict[str, AugmentConfig | None] = {
    "none": None,
    "light": AugmentConfig(shift=0.05, rotate=5.0, zoom=0.05, brightness=0.1, contrast=0.1, erase=0.0),
    "standard": AugmentConfig(),
    "strong": AugmentConfig(shift=0.15, rotate=15.0, zoom=0.15, brightness=0.3, contrast=0.3, erase=0.5,
                            erase_area=(0.02, 0.25)),
}


def scale(x: np.ndarray) -> np.ndarray:
    """uint8 faces (N, S, S) -> float32 (N, S, S, 1) in [-1, 1]."""
    return (x.astype(np.float32) / 127.5 - 1.0)[..., None]


def augment_batch(x: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig | None) -> np.ndarray:
    """Augment uint8 faces (N, S, S) and return them scaled to [-1, 1] with a channel axis."""
    if cfg is None:
        return scale(x)
    import cv2

    n, size = len(x), x.shape[1]
    out = np.empty((n, size, size), np.float32)
    centre = (size / 2 - 0.5, size / 2 - 0.5)
    for i in range(n):
        img = x[i]
        if rng.random() < cfg.flip:
            img = img[:, ::-1]
        angle = rng.uniform(-cfg.rotate, cfg.rotate)
        zoom = 1.0 + rng.uniform(-cfg.zoom, cfg.zoom)
        m = cv2.getRotationMatrix2D(centre, angle, zoom)
        m[:, 2] += rng.uniform(-cfg.shift, cfg.shift, 2) * size
        img = cv2.warpAffine(np.ascontiguousarray(img), m, (size, size), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT_101)
        f = img.astype(np.float32)
        mean = f.mean()
        f = (f - mean) * (1.0 + rng.uniform(-cfg.contrast, cfg.contrast)) + mean \
            + rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
        if rng.random() < cfg.erase:
            area = rng.uniform(*cfg.erase_area) * size * size
            aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if 0 < h < size and 0 < w < size:
                top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
                f[top:top + h, left:left + w] = rng.uniform(0, 255, (h, w))
        out[i] = f
    np.clip(out, 0.0, 255.0, out=out)
    return (out / 127.5 - 1.0)[..., None]
