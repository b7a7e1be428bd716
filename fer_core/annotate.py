"""Drawing results on frames: a box and a label in the emotion's colour.

The label drawn is the face's `smoothed_label` (in a photo, the model's label). Labels are numbered (`#1 Happy 92%`) with the face's track id in videos, or its position from the left in a
photo when `numbered=True`, so the picture can be matched to tables and crop galleries; a label that would
cover an earlier one is moved below its box, then further down, instead of being drawn on top of it.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .emotions import COLORS_BGR, display_name
from .results import FaceResult

Rect = tuple[int, int, int, int]


def _text_scale(frame: np.ndarray) -> float:
    return max(0.45, min(1.2, max(frame.shape[:2]) / 900))


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_rect(face: FaceResult, size: tuple[int, int], taken: list[Rect], frame_h: int) -> Rect:
    """Above the box if free, else below it, else stepped further down until it no longer covers a label."""
    b = face.box
    width, height = size
    above = b.y - height
    candidates = ([above] if above >= 0 else []) + [b.y + b.h + i * height for i in range(len(taken) + 1)]
    for top in candidates:
        top = min(max(0, top), max(0, frame_h - height))
        rect = (b.x, top, b.x + width, top + height)
        if not any(_overlaps(rect, other) for other in taken):
            return rect
    return (b.x, max(0, above), b.x + width, max(0, above) + height)


def draw_faces(
    frame: np.ndarray,
    faces: Sequence[FaceResult],
    copy: bool = True,
    numbered: bool = False,
) -> np.ndarray:
    """Annotated frame (a copy unless `copy=False`)."""
    out = frame.copy() if copy else frame
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    scale = _text_scale(out)
    thickness = max(1, round(scale * 2))
    for face in faces:
        b = face.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), COLORS_BGR.get(face.smoothed_label, (255, 255, 255)),
                      thickness + 1)
    taken: list[Rect] = []
    for index, face in enumerate(faces, 1):
        color = COLORS_BGR.get(face.smoothed_label, (255, 255, 255))
        text = f"{display_name(face.smoothed_label)} {face.smoothed_confidence:.0%}"
        number = face.track_id if face.track_id is not None else (index if numbered else None)
        if number is not None:
            text = f"#{number} {text}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        rect = _label_rect(face, (tw + 8, th + base + 6), taken, out.shape[0])
        taken.append(rect)
        cv2.rectangle(out, rect[:2], rect[2:], color, -1)
        cv2.putText(out, text, (rect[0] + 4, rect[1] + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness,
                    cv2.LINE_AA)
    return out

