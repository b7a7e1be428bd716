"""Turn face boxes into the exact input the classifier was trained on.

FER2013 faces are centred, square, grey crops with a little forehead and chin around the face. A Haar or
YuNet box is tighter than that and not always square, so each box is widened by a margin, made square
around its centre, kept inside the frame, then turned grey, resized and scaled to [-1, 1]. With YuNet's
landmarks the square is also turned about its centre so that the eyes are level (`level_eyes`), which
undoes a tilted head. A mismatch here costs accuracy without raising any error, which is why the tests pin
it down.

`scale_pixels` / `unscale_pixels` are the one statement of the models' input scaling; training code and
the dashboard's "what the model sees" images use them.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .results import Box

INPUT_RANGE: tuple[float, float] = (-1.0, 1.0)
"""Every model takes grey pixels scaled from [0, 255] to this range (x / 127.5 - 1)."""

_HALF = 255.0 / (INPUT_RANGE[1] - INPUT_RANGE[0])

MIN_ROLL_DEGREES = 1.0
"""Eye lines tilted less than this are cropped upright: turning by a fraction of a degree only blurs."""


def scale_pixels(gray: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 in `INPUT_RANGE`, as the models were trained."""
    return gray.astype(np.float32) / np.float32(_HALF) + np.float32(INPUT_RANGE[0])


def unscale_pixels(face: np.ndarray) -> np.ndarray:
    """A model input (..., S, S[, 1]) back to displayable uint8 grey pixels."""
    face = np.asarray(face, dtype=np.float32)
    if face.ndim >= 3 and face.shape[-1] == 1:
        face = face[..., 0]
    return np.clip((face - INPUT_RANGE[0]) * _HALF, 0, 255).round().astype(np.uint8)


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


def resize_face(gray_face: np.ndarray, size: int) -> np.ndarray:
    """One grey face image of any size -> (size, size) uint8, area-averaged when shrinking."""
    interpolation = cv2.INTER_AREA if gray_face.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(gray_face, (size, size), interpolation=interpolation)


def prepare_face(gray_face: np.ndarray, size: int) -> np.ndarray:
    """One grey face image of any size -> (size, size, 1) float32 in `INPUT_RANGE`."""
    return scale_pixels(resize_face(gray_face, size))[:, :, None]


def levelled_face(frame: np.ndarray, region: tuple[int, int, int, int], degrees: float, size: int) -> np.ndarray:
    """The square `region` turned by `degrees` about its centre, as a grey (size, size) uint8 image.

    Only the pixels the turned square can reach are converted and shrunk (area-averaged, like the upright
    crop) before the rotation, so a large face costs about what an upright one does. Pixels from outside
    the frame repeat the edge.
    """
    x0, y0, x1, y1 = region
    side = x1 - x0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    theta = np.radians(degrees)
    reach = side * (abs(np.cos(theta)) + abs(np.sin(theta))) / 2 + 2  # half the turned square's bounding box
    height, width = frame.shape[:2]
    bx0, by0 = max(0, int(np.floor(cx - reach))), max(0, int(np.floor(cy - reach)))
    bx1, by1 = min(width, int(np.ceil(cx + reach))), min(height, int(np.ceil(cy + reach)))
    patch = to_gray(frame[by0:by1, bx0:bx1])
    scale = size / side
    if scale < 1.0:
        small = (max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale)))
        patch = cv2.resize(patch, small, interpolation=cv2.INTER_AREA)
        sx, sy = small[0] / (bx1 - bx0), small[1] / (by1 - by0)
    else:
        sx = sy = 1.0
    # Centre of the square in the patch's pixels; turn about it and move it to the output's centre.
    pcx, pcy = (cx - bx0) * sx, (cy - by0) * sy
    zoom = scale / sx if scale < 1.0 else scale
    matrix = cv2.getRotationMatrix2D((pcx, pcy), degrees, zoom)
    matrix[0, 2] += size / 2 - pcx
    matrix[1, 2] += size / 2 - pcy
    return cv2.warpAffine(patch, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_faces(
    frame: np.ndarray, boxes: Sequence[Box], size: int = 64, margin: float = 0.1, level_eyes: bool = False,
) -> np.ndarray:
    """All faces of one frame as one batch (N, size, size, 1), ready for a single classifier call.

    `level_eyes` turns each face whose box has landmarks so the eyes are level; faces without landmarks,
    or tilted less than `MIN_ROLL_DEGREES`, are cropped upright.
    """
    batch = np.empty((len(boxes), size, size, 1), dtype=np.float32)
    if not boxes:
        return batch
    height, width = frame.shape[:2]
    for i, box in enumerate(boxes):
        region = square_crop_region(box, margin, width, height)
        roll = box.roll_degrees if level_eyes else 0.0
        if abs(roll) >= MIN_ROLL_DEGREES:
            face = levelled_face(frame, region, roll, size)
        else:
            x0, y0, x1, y1 = region
            # Grey per face, not per frame: the same pixels, a fraction of the work on a large frame.
            face = resize_face(to_gray(frame[y0:y1, x0:x1]), size)
        batch[i] = scale_pixels(face)[:, :, None]
    return batch
