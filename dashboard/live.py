"""The webcam's per-frame work, for streamlit-webrtc's `video_frame_callback`, and the page's history of it.

The callback runs in a worker thread that is not a Streamlit script thread, so nothing here touches `st.*`
or `st.session_state` from it: each processed frame's `FaceResult`s are put on a `queue.Queue`, and the
page (in the script thread) drains the queue into a `LiveHistory`, whose rows are the results table's
(`fer_core.results.COLUMNS`, source "webcam", or a network camera's address with its secrets as ***), the same
layout as a photo or a video.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.annotate import draw_faces
from fer_core.provenance import provenance, stamp
from fer_core.results import FaceResult, TableBuilder, face_rows, utc_clock
from fer_core.results_csv import LiveResultsCsv
from fer_core.stream import LiveFrameProcessor

from .files import safe_stem

if TYPE_CHECKING:
    import pandas as pd

SOURCE = "webcam"


@dataclass
class LiveUpdate:
    """What the page gets for one processed frame."""

    frame: int  # frames processed since the stream started
    time: float  # seconds since the stream started
    faces: list[FaceResult]
    processing_ms: float
    fps: float
    clock: str | None = None  # the frame's UTC date and time (the results table's `clock`)
    made_by: dict[str, Any] | None = field(default=None, repr=False)  # `fer_core.provenance` of the recognizer


@dataclass
class LiveSession:
    """One webcam stream: the frame processor, the results queue and counters (thread-safe).

    The processor is a `LiveFrameProcessor` on the shared recognizer's settings: the same frame path as a
    video (detection on a downscaled copy of every few frames, tracking and smoothing in between), with the
    detector in a background thread so the frame callback never waits for it.

    With `save_to` (a folder), every row also goes, from the frame callback itself, to a growing CSV there
    (`fer_core.results_csv.LiveResultsCsv`, named after `source` and the start time): unlike the page's
    history, it keeps every row of a long session, and keeps them when the browser tab is closed.
    """

    recognizer: Any
    results: "queue.Queue[LiveUpdate]" = field(default_factory=lambda: queue.Queue(maxsize=600))
    source: str = SOURCE
    save_to: Path | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._processor = LiveFrameProcessor(self.recognizer)
        self.made_by = provenance(self.recognizer)  # what made the rows: in each update and the saved CSV
        self._start: float | None = None
        self._last_frame: float | None = None
        self._stamps: deque[float] = deque(maxlen=30)
        self.frames = 0
        self.mean_ms = 0.0  # moving average of the processing time per frame
        self.errors = 0
        self.last_error: str | None = None
        self._saved: LiveResultsCsv | None = None
        self.saved_path: Path | None = None  # the growing CSV, once the first frame has come
        self.save_error: str | None = None  # why saving stopped (the stream goes on)

    def configure(self, recognizer: Any) -> None:
        """New settings from the sidebar (a recognizer built for them) take effect on the next frame."""
        if recognizer is self.recognizer:
            return
        with self._lock:
            self.recognizer = recognizer
            self._processor = LiveFrameProcessor(recognizer)
            self.made_by = provenance(recognizer)

    def process(self, image: np.ndarray) -> np.ndarray:
        """Annotate one BGR frame and publish its results; never raises (a bad frame is passed through)."""
        now, wall = time.perf_counter(), time.time()
        if self._start is None:
            self._start = now
        self._last_frame = now
        try:
            with self._lock:
                faces = self._processor.process(image)
        except Exception as error:  # noqa: BLE001 - keep the stream alive
            self.errors += 1
            self.last_error = f"{type(error).__name__}: {error}"
            return image
        ms = (time.perf_counter() - now) * 1000
        self._stamps.append(now)
        self.mean_ms = ms if self.frames == 0 else 0.9 * self.mean_ms + 0.1 * ms
        fps = (len(self._stamps) - 1) / (self._stamps[-1] - self._stamps[0]) if len(self._stamps) > 1 else 0.0
        update = LiveUpdate(frame=self.frames, time=now - self._start, faces=faces, processing_ms=self.mean_ms, fps=fps,
                            clock=utc_clock(wall), made_by=self.made_by)
        self.frames += 1
        if self.save_to is not None and self.save_error is None:
            self._save(update)
        try:
            self.results.put_nowait(update)
        except queue.Full:  # the page is not reading: drop the oldest
            try:
                self.results.get_nowait()
            except queue.Empty:
                pass
            self.results.put_nowait(update)
        return draw_faces(image, faces, copy=False)

    def _save(self, update: LiveUpdate) -> None:
        """The frame's rows to the growing CSV (opened at the first frame); a failure stops saving, not the stream."""
        try:
            if self._saved is None:
                stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
                self.saved_path = self.save_to / f"{safe_stem(self.source)}_{stamp}.csv"  # type: ignore[operator]
                self._saved = LiveResultsCsv(self.saved_path, provenance=self.made_by)
            with self._lock:
                following = list(self._processor.tracker.tracks)
            rows = face_rows(update.faces, self.source, update.frame, update.time, update.clock)
            self._saved.add(rows, self.source, following)
        except Exception as error:  # noqa: BLE001 - a full disk must not end the stream
            self.save_error = str(error)

    def callback(self, frame: Any) -> Any:
        """streamlit-webrtc `video_frame_callback`: av.VideoFrame in, annotated av.VideoFrame out."""
        import av

        image = frame.to_ndarray(format="bgr24")
        out = self.process(image)
        new = av.VideoFrame.from_ndarray(out, format="bgr24")
        new.pts, new.time_base = frame.pts, frame.time_base
        return new

    def seconds_since_last_frame(self) -> float | None:
        """How long no frame has arrived (None before the first): a camera that stopped sending, or a
        network stream that ended, leaves the browser's video frozen, and the page should say so."""
        return None if self._last_frame is None else time.perf_counter() - self._last_frame

    def drain(self, limit: int = 10_000) -> list[LiveUpdate]:
        out = []
        while len(out) < limit:
            try:
                out.append(self.results.get_nowait())
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        """Stop the background detection thread, and write out and close the growing CSV."""
        self._processor.close()
        if self._saved is not None:
            try:
                self._saved.close()
            except Exception as error:  # noqa: BLE001 - said on the page
                self.save_error = str(error)


@dataclass
class LiveHistory:
    """A stream's results as table rows, with its frame rates and processing times (script thread only)."""

    source: str = SOURCE  # the table's `source`: "webcam", or a network camera's address with secrets as ***
    max_rows: int = 50_000  # about 30 minutes of one face at 25 frames a second
    dropped_rows: int = 0  # the oldest rows let go to stay under max_rows (the page says so)
    saved_path: Path | None = None  # where the session saved every row (`LiveSession.save_to`), once it is over
    save_error: str | None = None
    rows: TableBuilder = field(default_factory=TableBuilder)
    fps: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    last: LiveUpdate | None = None
    frames: int = 0
    made_by: list[dict[str, Any]] = field(default_factory=list)  # each provenance the session ran with, in order

    def absorb(self, updates: list[LiveUpdate]) -> None:
        """Add drained updates; the oldest rows go once there are more than `max_rows`."""
        for update in updates:
            self.frames += 1
            self.fps.append(update.fps)
            self.ms.append(update.processing_ms)
            self.last = update
            if update.made_by and (not self.made_by or self.made_by[-1] != update.made_by):
                self.made_by.append(update.made_by)
            self.rows.add(update.faces, self.source, update.frame, update.time, update.clock)
        self.dropped_rows += self.rows.trim(self.max_rows)
        del self.fps[: max(0, len(self.fps) - self.max_rows)]
        del self.ms[: max(0, len(self.ms) - self.max_rows)]

    @property
    def seconds(self) -> float:
        """How long the session ran by its own clock, from its first frame to its last: the face rows cannot
        say it (a session in which no face was seen has none)."""
        return self.last.time if self.last is not None else 0.0

    def table(self) -> "pd.DataFrame":
        """The session's rows, saying what made them: the settings it ran with last, and, if they were changed
        during the session, which ones it started with (`started_with`)."""
        made_by = dict(self.made_by[-1]) if self.made_by else None
        if made_by is not None and len(self.made_by) > 1:
            made_by["started_with"] = self.made_by[0]
        return stamp(self.rows.table(), made_by)
