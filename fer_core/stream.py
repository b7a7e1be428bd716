"""Frames in order (a video, a live stream) -> faces with track ids and smoothed probabilities.

Detection is the expensive step (5-100 ms a frame against about 0.5 ms for cropping and classifying a
face), so `Settings.detect_every=k` runs the detector on one frame in k and classifies the tracked boxes in
between (faces move little in a few frames). A fresh detection also runs on the next frame whenever a track
was not found again (the face left, turned or was hidden), and on every frame while no face is tracked, so a
face entering an empty picture is found at once; a face entering beside a tracked one is found at the next
periodic detection, at most k - 1 frames later.

Each frame goes through the recognizer's own `detect` (at `Settings.detect_width`) and `classify` (one
batch per frame): the same steps as a photo, plus the tracker and the smoother. With the default settings
(`fer_core.settings.REALTIME`) this labels every frame of a video at well over 5x the `fer` package's rate;
`THOROUGH` (detection on every frame at 640 px) is the reference it is checked against
(benchmarks/bench_video.py: labels agree on more than 95% of frames).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .pipeline import EmotionRecognizer
from .results import Box, FaceResult
from .settings import Settings
from .tracking import EmaSmoother, IoUTracker


class FrameProcessor:
    """Stateful: one per video or per live stream (not shared between threads without a lock).

    `settings` (default: the recognizer's) give `detect_every`, `detect_width` and `smoothing`; the crop
    and the model are the recognizer's.
    """

    def __init__(self, recognizer: EmotionRecognizer, settings: Settings | None = None, max_missed: int = 10) -> None:
        self.recognizer = recognizer
        self.settings = settings or recognizer.settings
        self.tracker = IoUTracker(max_missed=max_missed)
        self.smoother = EmaSmoother(self.settings.smoothing)
        self._count = 0
        self._since_detect = 0
        self.detections = 0  # frames on which the detector ran (for benchmarks and the webcam page)
        self.last_detected = False  # whether the last processed frame ran the detector

    def _detect(self, frame: np.ndarray) -> list[Box]:
        boxes = self.recognizer.detect(frame, width=self.settings.detect_width)
        self.detections += 1
        return boxes

    def _due(self) -> tuple[bool, list[Any]]:
        """Whether a detection is due on this frame, and the tracks seen on the last one."""
        tracked = [t for t in self.tracker.tracks.values() if t.missed == 0]
        lost = len(tracked) < len(self.tracker.tracks)  # a face the last detection did not find again
        due = self._since_detect + 1 >= self.settings.detect_every or self._count == 0 or not tracked or lost
        return due, tracked

    def process(self, frame: np.ndarray) -> list[FaceResult]:
        """Faces of this frame, left to right, with track ids and smoothed probabilities beside the raw ones."""
        due, tracked = self._due()
        self.last_detected = due
        if due:
            boxes = self._detect(frame)
            ids = self.tracker.update(boxes)
            self._since_detect = 0
        else:
            boxes = [t.box for t in tracked]
            ids = [t.track_id for t in tracked]
            self._since_detect += 1
        self._count += 1
        return self._label(frame, boxes, ids)

    def _label(self, frame: np.ndarray, boxes: list[Box], ids: list[int]) -> list[FaceResult]:
        """Classify the boxes in one batch (the recognizer's `classify`) and smooth per track."""
        raw = self.recognizer.classify(frame, boxes)
        smoothed = [self.smoother.update(tid, probs) for tid, probs in zip(ids, raw)]
        self.smoother.forget(set(self.tracker.tracks))
        faces = self.recognizer.results(boxes, raw, track_ids=ids, smoothed=smoothed)
        return sorted(faces, key=lambda f: (f.box.x, f.box.y))

    def reset(self) -> None:
        """Forget all tracks (a new video or a restarted stream)."""
        self.tracker.reset()
        self.smoother.forget(set())
        self._count = self._since_detect = 0


class LiveFrameProcessor(FrameProcessor):
    """For live streams: the same detect-every-k, tracking and smoothing, with detection off the caller's path.

    When a detection is due, the frame is handed to one background thread and `process` goes on with the
    tracked boxes; the detector's boxes are matched to the tracks when they arrive (typically one or two
    frames later, so boxes lag a face that moves fast by that much). A frame callback then costs about a
    millisecond (crop, classify, smooth) whatever the detector costs, and on two cores the detector runs
    beside it. Results depend on timing, so videos use the deterministic `FrameProcessor`.
    """

    def __init__(self, recognizer: EmotionRecognizer, settings: Settings | None = None, max_missed: int = 15) -> None:
        from concurrent.futures import ThreadPoolExecutor

        super().__init__(recognizer, settings, max_missed=max_missed)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fer-detect")
        self._pending: Any = None
        self.detection_errors = 0

    def process(self, frame: np.ndarray) -> list[FaceResult]:
        if self._pending is not None and self._pending.done():
            pending, self._pending = self._pending, None
            try:
                boxes = pending.result()
            except Exception:  # noqa: BLE001 - one failed detection must not end a live stream
                self.detection_errors += 1
            else:
                self.tracker.update(boxes)
                self._since_detect = 0
        due, tracked = self._due()
        self.last_detected = due and self._pending is None
        if self.last_detected:
            self._pending = self._executor.submit(self._detect, frame.copy())
        self._since_detect += 1
        self._count += 1
        return self._label(frame, [t.box for t in tracked], [t.track_id for t in tracked])

    def wait(self, timeout: float | None = None) -> None:
        """Block until a detection in flight has finished (tests, and a stream's last frame)."""
        if self._pending is not None:
            self._pending.exception(timeout=timeout)

    def close(self) -> None:
        """Stop the detection thread (also done when the processor is garbage-collected)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __del__(self) -> None:
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def reset(self) -> None:
        self.wait()
        self._pending = None
        super().reset()
