"""Per-frame processing for videos and live streams: detect, track, classify, smooth.

Detection is the expensive step (5-100 ms a frame against about 0.5 ms for cropping and classifying a
face), so `detect_every=k` runs the detector on one frame in k and classifies the tracked boxes in between
(faces move little in a few frames). A fresh detection also runs on the next frame whenever a track was
not found again (the face left, turned or was hidden), and on every frame while no face is tracked, so a
face entering an empty picture is found at once; a face entering beside a tracked one is found at the next
periodic detection, at most k - 1 frames later.

`detect_width` downscales the frame for detection only (boxes are mapped back; crops come from the full
frame), on top of whatever the detector does itself: a 640x480 webcam frame detected at 320x240 costs a
quarter of the pixels and still finds faces down to about 40 pixels wide.

`FrameProcessor.fast(recognizer)` (and `FAST_PRESET`) is the real-time setting used for the webcam and
for quick video analysis; `detect_every=1` without `detect_width` is the full per-frame run it is checked
against (benchmarks/bench_video.py: labels agree on more than 95% of frames).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .detectors import Box, detect_at_width
from .pipeline import EmotionRecognizer
from .results import FaceResult, probabilities_dict
from .tracking import EmaSmoother, IoUTracker

FAST_PRESET: dict[str, Any] = {"detector": "yunet", "detect_every": 5, "detect_width": 320, "smoothing_window": 5}
"""Real-time defaults: YuNet on a 320-pixel-wide copy of every 5th frame, tracking and a 5-frame EMA between.

Chosen by benchmarks/bench_video.py and compare_fer.py: on the sample videos this labels every frame at
well over 5x the `fer` package's rate with labels agreeing with a full per-frame YuNet run on >= 95% of
frames; detect_every=10 is faster still but lets a face that leaves keep a stale box for a third of a
second; a smaller detect_width starts to lose small faces.
"""


class FrameProcessor:
    """Stateful: one per video or per live stream (not shared between threads without a lock)."""

    def __init__(
        self,
        recognizer: EmotionRecognizer,
        detect_every: int = 1,
        smoothing_window: int = 5,
        max_missed: int = 10,
        detect_width: int | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.detect_every = max(1, int(detect_every))
        self.detect_width = int(detect_width) if detect_width else None
        self.tracker = IoUTracker(max_missed=max_missed)
        self.smoother = EmaSmoother(smoothing_window)
        self._count = 0
        self._since_detect = 0
        self.detections = 0  # frames on which the detector ran (for benchmarks and the webcam page)
        self.last_detected = False  # whether the last processed frame ran the detector

    @classmethod
    def fast(
        cls,
        recognizer: EmotionRecognizer,
        smoothing_window: int = FAST_PRESET["smoothing_window"],
        max_missed: int = 15,
        detect_every: int = FAST_PRESET["detect_every"],
        detect_width: int | None = FAST_PRESET["detect_width"],
        live: bool = False,
    ) -> "FrameProcessor":
        """The real-time preset (webcam, quick video analysis) on any recognizer.

        `live=True` returns a `LiveFrameProcessor`: the detector runs in a background thread, so a live
        stream's frame callback never waits for it (only for cropping, classifying and drawing).
        """
        kind = LiveFrameProcessor if live else cls
        return kind(recognizer, detect_every=detect_every, smoothing_window=smoothing_window,
                    max_missed=max_missed, detect_width=detect_width)

    def _detect(self, frame: np.ndarray) -> list[Box]:
        boxes = detect_at_width(self.recognizer.detect, frame, self.detect_width)
        self.detections += 1
        return boxes

    def process(self, frame: np.ndarray) -> list[FaceResult]:
        """Faces of this frame with track ids; probabilities smoothed, raw ones kept beside them."""
        tracked = [t for t in self.tracker.tracks.values() if t.missed == 0]
        lost = len(tracked) < len(self.tracker.tracks)  # a face the last detection did not find again
        self.last_detected = (self._since_detect + 1 >= self.detect_every or self._count == 0
                              or not tracked or lost)
        if self.last_detected:
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
        """Classify the boxes in one batched call, smooth per track, keep the raw values beside."""
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from concurrent.futures import ThreadPoolExecutor

        super().__init__(*args, **kwargs)
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
        tracked = [t for t in self.tracker.tracks.values() if t.missed == 0]
        lost = len(tracked) < len(self.tracker.tracks)
        due = self._since_detect + 1 >= self.detect_every or self._count == 0 or not tracked or lost
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
