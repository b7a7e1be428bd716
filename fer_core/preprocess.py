"""Turn face boxes into the exact input the classifier was trained on.

FER2013 faces are centred, square, grey crops with a little forehead and chin around the face. A Haar or
YuNet box is tighter than that and not always square, so each box is widened by a margin, made square
around its centre, kept inside the frame, then turned grey, resized and scaled to [-1, 1]. A mismatch here
costs accuracy without raising any error, which is why the tests pin it down.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .detectors import Box


def square_crop_region(box: Box, margin: float, frame_width: int, frame_height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): a square of side max(w, h) * (1 + 2 * margin) centred on the box, inside the frame.

    The square is shifted, not cut, where it would leave the frame, so the face keeps its proportions;
    only a square larger than the frame itself is clipped.
    """
    side = round(max(box.w, box.h) * (1 + 2 * margin))
    side = max(1, min(side, frame_width, frame_height))
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0 = int(round(cx - side / 2))
    y0 = int(round(cy - side / 2))
    x0 = min(max(0, x0), frame_width - side)
    y0 = min(max(0, y0), frame_height - side)
    return x0, y0, x0 + side, y0 + side


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def scale_pixels(gray: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1], as the models were trained."""
    return gray.astype(np.float32) / 127.5 - 1.0


def prepare_face(gray_face: np.ndarray, size: int) -> np.ndarray:
    """One grey face image of any size -> (size, size, 1) float32 in [-1, 1]."""
    interpolation = cv2.INTER_AREA if gray_face.shape[0] > size else cv2.INTER_LINEAR
    resized = cv2.resize(gray_face, (size, size), interpolation=interpolation)
    return scale_pixels(resized)[:, :, None]


def crop_faces(frame: np.ndarray, boxes: Sequence[Box], size: int = 64, margin: float = 0.1) -> np.ndarray:
    """All faces of one frame as one batch (N, size, size, 1), ready for a single classifier call."""
    batch = np.empty((len(boxes), size, size, 1), dtype=np.float32)
    if not boxes:
        return batch
    height, width = frame.shape[:2]
    for i, box in enumerate(boxes):
        x0, y0, x1, y1 = square_crop_region(box, margin, width, height)
        # Grey per face, not per frame: the same pixels, a fraction of the work on a large frame.
        batch[i] = prepare_face(to_gray(frame[y0:y1, x0:x1]), size)
    return batch


def batch_to_uint8(batch: np.ndarray) -> list[np.ndarray]:
    """The model's view of each face as displayable grey images."""
    return [np.clip((face[:, :, 0] + 1.0) * 127.5, 0, 255).astype(np.uint8) for face in batch]
