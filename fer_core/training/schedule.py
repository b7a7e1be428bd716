"""What both training engines (Keras in `loop.py`, PyTorch in `torch_engine.py`) decide the same way: the class
weights, the learning rate at each step and the epoch count that fits a time budget. Kept below both engines
so each imports it and neither imports the other for it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..emotions import EMOTIONS
from .config import TrainConfig


def class_weight_vector(y: np.ndarray) -> np.ndarray:
    """Inverse-frequency weights (mean 1 over the faces), 0 for absent classes."""
    counts = np.bincount(y, minlength=len(EMOTIONS)).astype(np.float64)
    w = np.where(counts > 0, len(y) / (np.count_nonzero(counts) * np.maximum(counts, 1)), 0.0)
    return w.astype(np.float32)


def lr_at(cfg: TrainConfig, epoch: float, total_epochs: int | None = None) -> float:
    """Cosine decay with a linear warm-up over `total_epochs`; `epoch` counts from 0 and may be fractional
    (the torch engine sets the rate every step)."""
    if cfg.schedule != "cosine":
        return cfg.lr
    total = total_epochs or cfg.epochs
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch + 1) / (cfg.warmup_epochs + 1)
    span = max(1, total - cfg.warmup_epochs)
    t = min(1.0, (epoch - cfg.warmup_epochs) / span)
    floor = 0.0 if cfg.optimizer == "sgd" else 0.02
    return cfg.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def plan_epochs(cfg: TrainConfig, planned: int, epochs_done: int, recent_seconds: list[float],
                elapsed: float) -> int:
    """The epoch count that fits `cfg.time_budget`: set after epoch 2, shortened whenever the run falls behind.

    Shortening re-plans the cosine schedule over the new count, so a slowed-down run still anneals to its end
    instead of stopping at a high learning rate. `recent_seconds`: the last epochs' durations (with
    validation and checkpoint); `elapsed`: seconds since the run started (data loading included).
    """
    if not cfg.time_budget or epochs_done < min(2, cfg.epochs):
        return planned
    # The first epoch pays for start-up (cuDNN's kernel search, caches), so it is left out of every estimate,
    # and in the first five epochs the plan may still grow as the measured speed settles.
    early = epochs_done <= 5
    per_epoch = (min(recent_seconds[-2:]) if early else
                 max(sum(recent_seconds) / len(recent_seconds), recent_seconds[-1])) * 1.03
    remaining = cfg.time_budget * 60 - elapsed
    fits = epochs_done + max(0, int(remaining // per_epoch))
    if early:
        return max(epochs_done, min(cfg.epochs, fits))
    return min(planned, fits)


def replan(cfg: TrainConfig, state: dict[str, Any], epochs_done: int, recent_seconds: list[float],
           elapsed: float) -> None:
    """Set `state["planned_epochs"]` by `plan_epochs` (both engines), and say so when the budget shortens the run."""
    if not recent_seconds:
        return
    planned = plan_epochs(cfg, state["planned_epochs"], epochs_done, recent_seconds, elapsed)
    if planned != state["planned_epochs"]:
        state["planned_epochs"] = planned
        if cfg.verbose and planned < cfg.epochs:
            print(f"time budget {cfg.time_budget:g} min: {planned} epochs fit ({recent_seconds[-1]:.1f} s each)",
                  flush=True)
