"""The webcam's per-frame work, for streamlit-webrtc's `video_frame_callback`.

The callback runs in a worker thread that is not a Streamlit script thread, so nothing here touches
`st.*` or `st.session_state`: each processed frame's results are put on a `queue.Queue`, and the page
(in the script thread) drains the queue to draw charts and keep the session's history.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer_core.annotate import draw_faces
from fer_core.emotions import EMOTIONS
from fer_core.stream import FrameProcessor


@dataclass
class LiveUpdate:
    """What the page gets for one processed frame."""

    time: float  # seconds since the stream started
    faces: list[dict[str, Any]]  # face_id, label, confidence and the seven probabilities
    processing_ms: float
    fps: float


@dataclass
class LiveSession:
    """One webcam stream: the frame processor, the results queue and counters (thread-safe).

    The processor is `FrameProcessor.fast(live=True)`, fer_core's real-time preset: detection on a
    320-pixel-wide copy of every few frames, in a background thread so the frame callback never waits for
    it, with tracking and smoothing in between.
    """

    recognizer: Any
    smoothing: int = 5
    results: "queue.Queue[LiveUpdate]" = field(default_factory=lambda: queue.Queue(maxsize=600))

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._processor = FrameProcessor.fast(self.recognizer, smoothing_window=self.smoothing, live=True)
        self._start: float | None = None
        self._stamps: deque[float] = deque(maxlen=30)
        self.frames = 0
        self.mean_ms = 0.0  # moving average of the processing time per frame
        self.errors = 0
        self.last_error: str | None = None

    def configure(self, recognizer: Any, smoothing: int) -> None:
        """New settings from the sidebar take effect on the next frame."""
        if recognizer is self.recognizer and smoothing == self.smoothing:
            return
        with self._lock:
            self.recognizer, self.smoothing = recognizer, smoothing
            self._processor = FrameProcessor.fast(recognizer, smoothing_window=smoothing, live=True)

    def process(self, image: np.ndarray) -> np.ndarray:
        """Annotate one BGR frame and publish its results; never raises (a bad frame is passed through)."""
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        t0 = time.perf_counter()
        try:
            with self._lock:
                faces = self._processor.process(image)
        except Exception as error:  # noqa: BLE001 - keep the stream alive
            self.errors += 1
            self.last_error = f"{type(error).__name__}: {error}"
            return image
        ms = (time.perf_counter() - t0) * 1000
        self._stamps.append(now)
        self.frames += 1
        self.mean_ms = ms if self.frames == 1 else 0.9 * self.mean_ms + 0.1 * ms
        fps = (len(self._stamps) - 1) / (self._stamps[-1] - self._stamps[0]) if len(self._stamps) > 1 else 0.0
        update = LiveUpdate(
            time=now - self._start,
            faces=[{"face_id": f.track_id, "label": f.label, "confidence": f.confidence,
                    **{e: f.probabilities.get(e, 0.0) for e in EMOTIONS}} for f in faces],
            processing_ms=self.mean_ms,
            fps=fps,
        )
        try:
            self.results.put_nowait(update)
        except queue.Full:  # the page is not reading: drop the oldest
            try:
                self.results.get_nowait()
            except queue.Empty:
                pass
            self.results.put_nowait(update)
        return draw_faces(image, faces, copy=False)

    def callback(self, frame):
        """streamlit-webrtc `video_frame_callback`: av.VideoFrame in, annotated av.VideoFrame out."""
        import av

        image = frame.to_ndarray(format="bgr24")
        out = self.process(image)
        new = av.VideoFrame.from_ndarray(out, format="bgr24")
        new.pts, new.time_base = frame.pts, frame.time_base
        return new

    def drain(self, limit: int = 10_000) -> list[LiveUpdate]:
        out = []
        while len(out) < limit:
            try:
                out.append(self.results.get_nowait())
            except queue.Empty:
                break
        return out
