"""`EmotionRecognizer`: the one object most callers need (detect, crop, classify, label)."""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from .classifier import EmotionClassifier
from .detectors import Box, FaceDetector, create_detector
from .preprocess import crop_faces
from .models import ModelSpec
from .results import FaceResult, probabilities_dict


class EmotionRecognizer:
    """Faces and their emotions in a BGR frame.

    >>> recognizer = EmotionRecognizer(detector="yunet")
    >>> [face.label for face in recognizer.analyze(load_image("photo.jpg"))]
    ['happy']
    """

    def __init__(
        self,
        detector: str | FaceDetector = "haar",
        model: str | ModelSpec | None = None,
        tta: bool = False,
        detector_params: dict[str, Any] | None = None,
    ) -> None:
        self.detector = create_detector(detector, **(detector_params or {})) if isinstance(detector, str) else detector
        self.classifier = EmotionClassifier(model, tta=tta)
        self._lock = threading.Lock()

    @property
    def model(self) -> ModelSpec:
        return self.classifier.spec

    @property
    def detector_name(self) -> str:
        return getattr(self.detector, "name", type(self.detector).__name__)

    def detect(self, frame: np.ndarray) -> list[Box]:
        with self._lock:
            return self.detector.detect(frame)

    def crops(self, frame: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """What the model sees: (N, S, S, 1) float32 in [-1, 1]."""
        return crop_faces(frame, boxes, size=self.model.input_size, margin=self.model.face_margin)

    def classify_crops(self, batch: np.ndarray) -> np.ndarray:
        return self.classifier.predict(batch)

    def classify(self, frame: np.ndarray, boxes: Sequence[Box]) -> list[FaceResult]:
        """Classify known boxes in one batched call (used between detections in video)."""
        if not boxes:
            return []
        probabilities = self.classify_crops(self.crops(frame, boxes))
        return [FaceResult(box, probabilities_dict(p, self.model.classes)) for box, p in zip(boxes, probabilities)]

    def analyze(self, frame: np.ndarray) -> list[FaceResult]:
        """Every face in the frame, left to right."""
        return self.classify(frame, self.detect(frame))
