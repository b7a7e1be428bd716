"""Image perturbations for the robustness playground: how do the probabilities move when a face gets
darker, flatter, blurrier, tilted, mirrored or partly hidden?

Every function takes a uint8 image (grayscale HxW or colour HxWx3) and returns a new uint8 image of the
same shape; the input is never modified.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


def adjust_brightness(image: np.ndarray, delta: float) -> np.ndarray:
    """Add `delta` (in grey levels, -255..255) to every pixel."""
    if delta == 0:
        return image.copy()
    return np.clip(image.astype(np.float32) + float(delta), 0, 255).astype(np.uint8)


def adjust_contrast(image: np.ndarray, factor: float) -> np.ndarray:
    """Scale the distance of every pixel from the image mean by `factor` (1 = unchanged, 0 = flat grey)."""
    if factor == 1:
        return image.copy()
    img = image.astype(np.float32)
    mean = float(img.mean())
    return np.clip((img - mean) * float(factor) + mean, 0, 255).astype(np.uint8)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation `sigma` in pixels (0 = unchanged)."""
    if sigma <= 0:
        return image.copy()
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma),
                            borderType=cv2.BORDER_REFLECT)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre by `degrees` (counter-clockwise), keeping the size; edges are replicated."""
    if degrees == 0:
        return image.copy()
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(degrees), 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def mirror(image: np.ndarray) -> np.ndarray:
    """Flip left to right."""
    return np.ascontiguousarray(image[:, ::-1])


def occlude(image: np.ndarray, cx: float, cy: float, size: float, value: int = 0) -> np.ndarray:
    """Cover a square patch with a flat `value`.

    `cx`, `cy` are the patch centre and `size` its side, all as fractions (0..1) of the image width/height.
    """
    out = image.copy()
    if size <= 0:
        return out
    h, w = image.shape[:2]
    side_w, side_h = max(1, int(round(size * w))), max(1, int(round(size * h)))
    x0 = int(round(cx * w - side_w / 2))
    y0 = int(round(cy * h - side_h / 2))
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x0 + side_w), min(h, y0 + side_h)
    out[y0:y1, x0:x1] = value
    return out


@dataclass(frozen=True)
class Perturbation:
    """A set of perturbations, applied in a fixed order (the playground's sliders)."""

    brightness: float = 0.0  # grey levels added
    contrast: float = 1.0  # factor
    blur_sigma: float = 0.0  # pixels
    rotation: float = 0.0  # degrees
    mirror: bool = False
    patch_size: float = 0.0  # fraction of the side; 0 = no patch
    patch_x: float = 0.5  # patch centre, fraction of the width
    patch_y: float = 0.5  # patch centre, fraction of the height

    def is_identity(self) -> bool:
        return self == Perturbation()

    def to_dict(self) -> dict:
        return asdict(self)


def apply(image: np.ndarray, p: Perturbation) -> np.ndarray:
    """Apply `p` to `image`: mirror, rotation, brightness, contrast, blur, then the occluding patch."""
    out = np.asarray(image)
    if out.dtype != np.uint8:
        raise ValueError("perturbations expect a uint8 image")
    out = out.copy()
    if p.mirror:
        out = mirror(out)
    out = rotate(out, p.rotation)
    out = adjust_brightness(out, p.brightness)
    out = adjust_contrast(out, p.contrast)
    out = blur(out, p.blur_sigma)
    out = occlude(out, p.patch_x, p.patch_y, p.patch_size)
    return out
