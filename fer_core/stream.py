"""Per-frame processing for videos and live streams: detect, track, classify, smooth.

Detection is the expensive step, so `detect_every=k` runs the detector on one frame in k and classifies
the tracked boxes in between (faces move little in a few frames); a frame with no tracked face is always
detected so a face entering the picture is found at once.
"""

from __future__ import annotations

import numpy as np

from .pipeline import EmotionRecognizer
from .results import FaceResult, probabilities_dict
from .tracking import EmaSmoother, IoUTracker


class FrameProcessor:
    """Stateful: one per video or per live stream."""

    def __init__(
        self,
        recognizer: EmotionRecognizer,
        detect_every: int = 1,
        smoothing_window: int = 5,
        max_missed: int = 10,
    ) -> None:
        self.recognizer = recognizer
        self.detect_every = max(1, int(detect_every))
        self.tracker = IoUTracker(max_missed=max_missed)
        self.smoother = EmaSmoother(smoothing_window)
        self._count = 0

    def process(self, frame: np.ndarray) -> list[FaceResult]:
        """Faces of this frame with track ids; probabilities smoothed, raw ones kept beside them."""
        tracked = [t for t in self.tracker.tracks.values() if t.missed == 0]
        if self._count % self.detect_every == 0 or not tracked:
            boxes = self.recognizer.detect(frame)
            ids = self.tracker.update(boxes)
        else:
            boxes = [t.box for t in tracked]
            ids = [t.track_id for t in tracked]
        self._count += 1
        raw = self.recognizer.classify_crops(self.recognizer.crops(frame, boxes)) if boxes else []
        classes = self.recognizer.model.classes
        faces = []
        for box, tid, probs in zip(boxes, ids, raw):
            smoothed = self.smoother.update(tid, probs)
            faces.append(
                FaceResult(
                    box,
                    probabilities_dict(smoothed, classes),
                    track_id=tid,
                    raw_probabilities=probabilities_dict(probs, classes),
                )
            )
        self.smoother.forget(set(self.tracker.tracks))
        return sorted(faces, key=lambda f: (f.box.x, f.box.y))
