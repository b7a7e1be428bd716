"""Per-face facts for slicing an evaluation: how bright, how contrasted, how sharp, how large, how turned.

Brightness, contrast and blur are measured on what the model saw (the grey crop at the model's input size),
because that is what its accuracy depends on: a large face shrunk to 48 pixels is sharp to the model however
soft the photo was, and the face's size in the photo is its own fact (`face_px`). Roll and yaw come from
YuNet's five landmarks, so they exist only where the detector ran; for crops they are NaN.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..results import Box

FACT_COLUMNS: list[str] = ["face_px", "brightness", "contrast", "blur", "detector_score", "roll", "yaw"]

NOSE_DEPTH = 0.6
"""The nose tip stands about this many eye-distances in front of the eye line (adult faces: 0.5-0.7). A head
turned by yaw moves it sideways by depth * sin(yaw) while the eyes close up to distance * cos(yaw)."""


def crop_facts(crops: np.ndarray) -> dict[str, np.ndarray]:
    """Brightness (mean grey, 0-255), contrast (standard deviation of grey) and blur (variance of the
    Laplacian: low is blurred) of each (S, S) uint8 crop."""
    crops = np.asarray(crops)
    if len(crops) == 0:
        empty = np.zeros(0)
        return {"brightness": empty, "contrast": empty, "blur": empty}
    flat = crops.reshape(len(crops), -1).astype(np.float64)
    blur = np.array([cv2.Laplacian(face, cv2.CV_64F).var() for face in crops])
    return {"brightness": flat.mean(axis=1), "contrast": flat.std(axis=1), "blur": blur}


def yaw_degrees(box: Box) -> float:
    """An approximate head yaw from YuNet's landmarks (NaN without them): positive when the nose tip lies to
    the image's right of the midpoint between the eyes (the person turned towards their left).

    In the frame of the levelled eye line, the nose's sideways offset over the eye distance is
    NOSE_DEPTH * tan(yaw). Good to about 10 degrees on frontal to three-quarter faces: enough to slice by pose.
    """
    if not box.landmarks or len(box.landmarks) < 3:
        return float("nan")
    (rx, ry), (lx, ly), (nx, ny) = box.landmarks[:3]
    ex, ey = lx - rx, ly - ry
    distance = math.hypot(ex, ey)
    if distance < 1e-6:
        return float("nan")
    # The nose's offset from the eyes' midpoint, along the eye line.
    along = ((nx - (rx + lx) / 2) * ex + (ny - (ry + ly) / 2) * ey) / distance
    return math.degrees(math.atan(along / distance / NOSE_DEPTH))


def box_facts(box: Box | None, image_shape: tuple[int, ...]) -> dict[str, float]:
    """Face size in pixels (the box's longer side; the image's shorter side for a crop), the detector's score,
    roll and yaw (NaN where no detector ran or it gave no landmarks)."""
    if box is None:
        return {"face_px": float(min(image_shape[:2])), "detector_score": math.nan, "roll": math.nan,
                "yaw": math.nan}
    has_landmarks = bool(box.landmarks)
    return {"face_px": float(max(box.w, box.h)), "detector_score": float(box.score),
            "roll": float(box.roll_degrees) if has_landmarks else math.nan,
            "yaw": yaw_degrees(box) if has_landmarks else math.nan}
