"""Result types: plain dataclasses that serialise to JSON and flatten to table rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .detectors import Box
from .emotions import EMOTIONS


def probabilities_dict(values: np.ndarray, classes: tuple[str, ...] = EMOTIONS) -> dict[str, float]:
    return {name: float(v) for name, v in zip(classes, values)}


@dataclass
class FaceResult:
    """One face: where it is, how likely each emotion is, and the most likely one.

    In videos and live streams `probabilities` may be smoothed over time; `raw_probabilities` then keeps
    what the model said for this frame alone.
    """

    box: Box
    probabilities: dict[str, float]
    track_id: int | None = None
    raw_probabilities: dict[str, float] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    @property
    def raw_label(self) -> str:
        raw = self.raw_probabilities or self.probabilities
        return max(raw, key=raw.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "box": self.box.to_dict(),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
        }
        if self.track_id is not None:
            data["face_id"] = self.track_id
        if self.raw_probabilities is not None:
            data["raw_probabilities"] = {k: round(v, 4) for k, v in self.raw_probabilities.items()}
        return data

    def to_row(self) -> dict[str, Any]:
        """Flat columns for CSV and DataFrames."""
        row: dict[str, Any] = {
            "x": self.box.x, "y": self.box.y, "w": self.box.w, "h": self.box.h,
            "detector_score": round(float(self.box.score), 4),
            "label": self.label, "confidence": round(self.confidence, 4),
        }
        row.update({k: round(v, 4) for k, v in self.probabilities.items()})
        return row
