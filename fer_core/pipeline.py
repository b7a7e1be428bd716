"""`EmotionRecognizer`: the frame path's steps for one frame (detect, crop, classify), built from `Settings`.

A photo is `analyze(frame)`; videos and live streams go through `fer_core.stream.FrameProcessor`, which
calls the same `detect` and `classify` and adds tracking and smoothing. Every caller (the command line, the
Video page, the webcam callback, folder runs) goes through these methods, so a frame is handled one way.
"""

from __future__ import annotations

import threading
from statistics import fmean
from typing import Any, Sequence

import numpy as np

from .classifier import EmotionClassifier
from .detectors import FaceDetector, create_detector, detect_in_tight_crop
from .models import ModelSpec
from .preprocess import crop_faces
from .results import Box, FaceResult, probabilities_dict
from .settings import Settings

_UNSET: Any = object()

ROW_TOLERANCE = 0.5
"""Faces are one row of a group photo when the centre of each is within this fraction of the row's mean face
height from the row's mean centre (people standing side by side, heads at slightly different heights)."""


def reading_order(boxes: Sequence[Box]) -> list[Box]:
    """Boxes as a reader meets them: rows top to bottom, left to right within a row (`ROW_TOLERANCE`).

    A photo's faces are numbered in this order (on the picture, in the table and the crops): by x alone, a
    face low on the left would be #1 and the face above it #2.
    """
    rows: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: (b.center[1], b.x)):  # top to bottom
        row = rows[-1] if rows else []
        if row and box.center[1] - fmean(b.center[1] for b in row) <= ROW_TOLERANCE * fmean(b.h for b in row):
            row.append(box)
        else:
            rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda b: (b.x, b.y))]


class EmotionRecognizer:
    """Faces and their emotions in a BGR frame.

    >>> recognizer = EmotionRecognizer()                       # Settings(): YuNet, the default model
    >>> [face.label for face in recognizer.analyze(load_image("photo.jpg"))]
    ['happy']

    `EmotionRecognizer(settings)` or keyword changes to the defaults (`EmotionRecognizer(detector="haar")`);
    `detector` may also be a ready `FaceDetector` object. Thread-safe: the detector and the classifier are
    each used under a lock, so a webcam thread and a page can share one recognizer.
    """

    def __init__(self, settings: Settings | None = None, *, detector: str | FaceDetector | None = None,
                 **changes: Any) -> None:
        settings = settings or Settings()
        if isinstance(detector, str):
            changes["detector"] = detector
        self.settings = settings.replace(**changes) if changes else settings
        if detector is not None and not isinstance(detector, str):
            self.detector: FaceDetector = detector
        else:
            self.detector = create_detector(self.settings.detector, **self.settings.detector_params)
        self.classifier = EmotionClassifier(self.settings.model, tta=self.settings.tta)
        self._lock = threading.Lock()

    @property
    def model(self) -> ModelSpec:
        return self.classifier.spec

    @property
    def detector_name(self) -> str:
        return getattr(self.detector, "name", type(self.detector).__name__)

    def detect(self, frame: np.ndarray, width: int | None = _UNSET) -> list[Box]:
        """Face boxes, left to right, found on a copy `width` pixels wide (default: the settings')."""
        width = self.settings.detect_width if width is _UNSET else width
        with self._lock:
            return self.detector.detect(frame, width=width)

    def find_faces(self, frame: np.ndarray) -> list[Box]:
        """Boxes for a still image, in `reading_order`: a second look at `retry_width` when the first finds none,
        and a third for a small photo that is all face (`detectors.detect_in_tight_crop`).

        The fast first pass finds the faces of almost every photo; a face it misses (small, or just under
        the detector's threshold at that size) is then not lost. In a video the next frame is the second look.
        """
        boxes = self.detect(frame)
        first, retry = self.settings.detect_width, self.settings.retry_width
        if not boxes and retry and first and retry > first and frame.shape[1] > first:
            boxes = self.detect(frame, width=retry)
        if not boxes:
            with self._lock:
                boxes = detect_in_tight_crop(self.detector, frame)
        return reading_order(boxes)

    def crops(self, frame: np.ndarray, boxes: Sequence[Box], level_eyes: bool | None = None) -> np.ndarray:
        """What the model sees: (N, S, S, 1) float32 in [-1, 1], eyes levelled as the settings say."""
        level = self.settings.level_eyes if level_eyes is None else level_eyes
        return crop_faces(frame, boxes, size=self.model.input_size, margin=self.model.face_margin, level_eyes=level)

    def classify_crops(self, batch: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """(N, S, S, 1) model inputs -> (N, classes) probabilities, in one call (see EmotionClassifier.predict)."""
        return self.classifier.predict(batch, calibrated=calibrated)

    def classify(self, frame: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Crop every box of the frame and classify them all in one batch: (N, classes) probabilities."""
        if not boxes:
            return np.zeros((0, len(self.model.classes)), dtype=np.float32)
        return self.classify_crops(self.crops(frame, boxes))

    def results(self, boxes: Sequence[Box], probabilities: np.ndarray, track_ids: Sequence[int | None] | None = None,
                smoothed: Sequence[np.ndarray] | None = None) -> list[FaceResult]:
        """`FaceResult`s from boxes and the classifier's output (and, in a video, track ids and smoothed values)."""
        classes = self.model.classes
        ids = track_ids if track_ids is not None else [None] * len(boxes)
        steady = smoothed if smoothed is not None else [None] * len(boxes)
        return [
            FaceResult(box, probabilities_dict(p, classes), track_id=tid,
                       smoothed=probabilities_dict(s, classes) if s is not None else None)
            for box, p, tid, s in zip(boxes, probabilities, ids, steady)
        ]

    def analyze(self, frame: np.ndarray) -> list[FaceResult]:
        """Every face in a still frame, in reading order (rows top to bottom, each left to right)."""
        boxes = self.find_faces(frame)
        return self.results(boxes, self.classify(frame, boxes))
