"""Saliency maps: which pixels of a face drive the model's prediction.

Occlusion sensitivity: slide a grey patch over the face (as the model sees it) and record how much the
probability of the class of interest drops. It needs only the fast classifier (a few hundred batched
predictions, well under a second on a CPU), no gradients and no TensorFlow import, and it is easy to
read: red means "covering this part lowers the score".
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

PredictFn = Callable[[np.ndarray], np.ndarray]
"""(N, S, S, 1) float32 model input -> (N, C) probabilities."""


def occlusion_saliency(
    face: np.ndarray,
    predict: PredictFn,
    target: int,
    patch: int | None = None,
    stride: int | None = None,
    fill: float = 0.0,
    batch_size: int = 128,
) -> np.ndarray:
    """Occlusion-sensitivity map of `face` for class index `target`.

    `face` is one model input, (S, S) or (S, S, 1) float32 (values as the model expects them,
    `preprocess.INPUT_RANGE`); `fill` is the patch value (0 is mid-grey). Returns an (S, S) float32 map in
    [0, 1]: for every pixel, the mean drop of the target probability over the patches that covered it,
    scaled by the largest drop (all zeros when no patch lowers the score).
    """
    x = np.asarray(face, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., 0]
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise ValueError(f"expected one square face, got shape {np.shape(face)}")
    size = x.shape[0]
    patch = patch or max(4, size // 8)
    stride = stride or max(2, patch // 2)
    base = float(predict(x[None, ..., None])[0, target])

    starts = list(range(0, max(1, size - patch + 1), stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    positions = [(r, c) for r in starts for c in starts]
    drops = np.empty(len(positions), dtype=np.float32)
    for i in range(0, len(positions), batch_size):
        chunk = positions[i : i + batch_size]
        batch = np.repeat(x[None, ..., None], len(chunk), axis=0)
        for j, (r, c) in enumerate(chunk):
            batch[j, r : r + patch, c : c + patch, 0] = fill
        drops[i : i + len(chunk)] = base - predict(batch)[:, target]

    total = np.zeros((size, size), dtype=np.float32)
    count = np.zeros((size, size), dtype=np.float32)
    for (r, c), d in zip(positions, drops):
        total[r : r + patch, c : c + patch] += d
        count[r : r + patch, c : c + patch] += 1
    heat = np.clip(total / np.maximum(count, 1), 0, None)
    peak = float(heat.max())
    return heat / peak if peak > 0 else heat


def overlay(gray: np.ndarray, heat: np.ndarray, alpha: float = 0.45, size: int | None = None) -> np.ndarray:
    """Blend a [0, 1] heat map over a grayscale face; returns an RGB uint8 image (for display).

    `gray` is uint8 (H, W) or a model input in [-1, 1]; `size` optionally upsamples both for display.
    """
    from .preprocess import unscale_pixels

    g = np.asarray(gray)
    if g.ndim == 3:
        g = g[..., 0]
    if g.dtype != np.uint8:
        g = unscale_pixels(g)
    h = np.asarray(heat, dtype=np.float32)
    if h.shape != g.shape:
        h = cv2.resize(h, (g.shape[1], g.shape[0]), interpolation=cv2.INTER_LINEAR)
    if size:
        g = cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC)
        h = cv2.resize(h, (size, size), interpolation=cv2.INTER_CUBIC)
    colour = cv2.applyColorMap(np.clip(h * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    base = cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
    blended = cv2.addWeighted(base, 1 - alpha, colour, alpha, 0)
    return cv2.cvtColor(blended, cv2.COLOR_BGR2RGB)
