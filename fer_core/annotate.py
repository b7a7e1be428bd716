"""Drawing results on frames: a box and a label in the emotion's colour, optional probability bars."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .emotions import COLORS_BGR, EMOTIONS, display_name
from .results import FaceResult


def _text_scale(frame: np.ndarray) -> float:
    return max(0.45, min(1.2, max(frame.shape[:2]) / 900))


def draw_faces(frame: np.ndarray, faces: Sequence[FaceResult], bars: bool = False, copy: bool = True) -> np.ndarray:
    """Annotated frame (a copy unless `copy=False`)."""
    out = frame.copy() if copy else frame
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    scale = _text_scale(out)
    thickness = max(1, round(scale * 2))
    for face in faces:
        color = COLORS_BGR.get(face.label, (255, 255, 255))
        b = face.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), color, thickness + 1)
        text = f"{display_name(face.label)} {face.confidence:.0%}"
        if face.track_id is not None:
            text = f"#{face.track_id} {text}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = b.y - th - base - 6 if b.y - th - base - 6 >= 0 else b.y + b.h
        cv2.rectangle(out, (b.x, top), (b.x + tw + 8, top + th + base + 6), color, -1)
        cv2.putText(out, text, (b.x + 4, top + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness, cv2.LINE_AA)
        if bars:
            _draw_bars(out, face, scale)
    return out


def _draw_bars(out: np.ndarray, face: FaceResult, scale: float) -> None:
    b = face.box
    bar_h = max(4, round(6 * scale))
    width = max(40, b.w)
    x0 = b.x
    y0 = b.y + b.h + 4
    for i, emotion in enumerate(EMOTIONS):
        y = y0 + i * (bar_h + 2)
        if y + bar_h >= out.shape[0]:
            break
        length = int(width * face.probabilities.get(emotion, 0.0))
        cv2.rectangle(out, (x0, y), (x0 + width, y + bar_h), (40, 40, 40), -1)
        cv2.rectangle(out, (x0, y), (x0 + length, y + bar_h), COLORS_BGR[emotion], -1)
