"""Mixup and CutMix: train on blends of two faces, with targets blended by the same share.

Why: the ResNet-18 teachers fit FER2013 Training to 96-99 % and stop near 70.5 % on PublicTest, and more
epochs did not help (tools/gpu_job/README.md). Mixing is the usual regulariser for a network that memorises
its training set: mixup (Zhang et al. 2018) blends two whole faces, CutMix (Yun et al. 2019) pastes a
rectangle of one face into another. Each face of a batch is mixed with probability `prob` with a partner
from the same batch, with its own share lambda ~ Beta(alpha, alpha).

The plan is drawn in NumPy from a seed per (run, epoch, batch), so both engines mix the same way, and a
resumed run mixes as the run it continues. The mixing happens on the scaled faces before the augmentation,
so the warp, jitter and erasing act on the blended face. All 14 target columns are blended: the labels, and
the teacher's stored probabilities where there are any (the teacher's answer on a blend is approximated by
the blend of its answers; an online teacher, `--teacher-model`, sees the blended face itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

MIXES = ("none", "mixup", "cutmix")
DEFAULT_ALPHA = {"mixup": 0.8, "cutmix": 1.0}  # timm's defaults


@dataclass(frozen=True)
class MixPlan:
    """How one batch is mixed: face i becomes mask[i] * face[i] + (1 - mask[i]) * face[partner[i]]."""

    partner: np.ndarray  # (N,) int: the face blended in
    mask: np.ndarray     # (N, S, S) float32: the share of each face's own pixels
    share: np.ndarray    # (N,) float32: the share of its own face in the targets (the mask's mean)

    def apply(self, faces: Any, targets: Any, to_array: Callable[[np.ndarray], Any] = np.asarray,
              channels_first: bool = False) -> tuple[Any, Any]:
        """Mixed faces ((N, S, S, 1), or (N, 1, S, S) with `channels_first`) and targets ((N, K)).

        `to_array` turns the plan's NumPy arrays into the faces' array type (a torch tensor on a GPU).
        """
        mask = to_array(self.mask[:, None] if channels_first else self.mask[..., None])
        share = to_array(self.share[:, None])
        partner = to_array(self.partner)
        return (faces * mask + faces[partner] * (1.0 - mask),
                targets * share + targets[partner] * (1.0 - share))


def mix_plan(rng: np.random.Generator, n: int, size: int, method: str, alpha: float | None = None,
             prob: float = 1.0) -> MixPlan | None:
    """The plan for a batch of `n` faces of `size` pixels, or None when `method` is "none"."""
    if method == "none":
        return None
    if method not in MIXES:
        raise ValueError(f"Unknown mix '{method}'; choose one of {', '.join(MIXES)}.")
    alpha = alpha or DEFAULT_ALPHA[method]
    partner = rng.permutation(n)
    lam = np.where(rng.random(n) < prob, rng.beta(alpha, alpha, n), 1.0)
    if method == "mixup":
        share = lam.astype(np.float32)
        mask = np.broadcast_to(share[:, None, None], (n, size, size)).astype(np.float32)
        return MixPlan(partner, mask, share)
    # CutMix: a box of area (1 - lam) of the face, centred anywhere and clipped at the border
    side = np.sqrt(1.0 - lam) * size
    cy, cx = rng.random(n) * size, rng.random(n) * size
    top, bottom = np.clip(np.round(cy - side / 2), 0, size), np.clip(np.round(cy + side / 2), 0, size)
    left, right = np.clip(np.round(cx - side / 2), 0, size), np.clip(np.round(cx + side / 2), 0, size)
    grid = np.arange(size)
    rows = (grid[None, :] >= top[:, None]) & (grid[None, :] < bottom[:, None])
    cols = (grid[None, :] >= left[:, None]) & (grid[None, :] < right[:, None])
    mask = 1.0 - (rows[:, :, None] & cols[:, None, :]).astype(np.float32)
    return MixPlan(partner, mask, mask.mean(axis=(1, 2)).astype(np.float32))


def batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    """The generator for one batch's plan: the same in both engines and after a resume."""
    return np.random.default_rng([seed, epoch, batch, 0x6D6978])  # the last word keeps it apart from shuffling
