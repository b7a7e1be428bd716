"""Video files: decoded one frame at a time, analysed every Nth frame, summarised as a timeline.

Nothing holds more than one decoded frame: a ten-minute video costs the same memory as a ten-second one,
apart from the timeline's rows. The annotated copy is written as H.264 MP4 (yuv420p, fast start), which
every browser plays, or VP9 WebM when the output name ends in .webm.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import numpy as np
import pandas as pd

from .annotate import draw_faces
from .emotions import EMOTIONS
from .errors import InputNotFoundError, InvalidVideoError
from .pipeline import EmotionRecognizer
from .results import FaceResult
from .stream import FrameProcessor

ProgressCallback = Callable[[int, int], "bool | None"]
"""Called as progress(frames_done, frames_total_estimate); return False to stop early."""

TIMELINE_COLUMNS = ["time", "frame", "face_id", "x", "y", "w", "h", *EMOTIONS, "label", "confidence", "raw_label"]


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    codec: str


@dataclass(frozen=True)
class VideoFrame:
    index: int
    time: float
    image: np.ndarray


def _open(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise InvalidVideoError(f"{path.name} is empty (0 bytes).")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        raise InvalidVideoError(f"{path.name} is not a video this tool can decode (damaged or unknown format).") from None
    if not container.streams.video:
        container.close()
        raise InvalidVideoError(f"{path.name} has no video stream, so no frames to analyse.")
    return container


def probe_video(path: str | Path) -> VideoInfo:
    """Size, rate, length and codec, from the container's header."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        if not duration and container.duration:
            duration = container.duration / 1_000_000
        frames = stream.frames or int(round(duration * fps))
        return VideoInfo(stream.width, stream.height, fps, frames, duration, stream.codec_context.name)
    finally:
        container.close()


def iter_frames(path: str | Path, prefetch: int = 0) -> Iterator[VideoFrame]:
    """Every frame as BGR, lazily. A stream damaged part-way ends the iteration at the damage.

    With `prefetch=N`, a background thread decodes (and converts to BGR) up to N frames ahead while the
    caller works on the current one: PyAV releases the GIL while decoding, so on two cores decoding is
    nearly free. Memory stays bounded at N frames; stopping early stops the thread.
    """
    if prefetch and prefetch > 0:
        return _prefetched(path, int(prefetch))
    return _iter_frames(path)


def _iter_frames(path: str | Path) -> Iterator[VideoFrame]:
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        index = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else index / fps
                yield VideoFrame(index, t, frame.to_ndarray(format="bgr24"))
                index += 1
        except (av.FFmpegError, OSError, ValueError):
            if index == 0:
                raise InvalidVideoError(f"{Path(path).name} could not be decoded (damaged video).") from None
    finally:
        container.close()


_END = object()


def _prefetched(path: str | Path, size: int) -> Iterator[VideoFrame]:
    container_check = _open(path)  # fail here, in the caller's thread, on a missing or unreadable file
    container_check.close()
    frames: queue.Queue[Any] = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        source = _iter_frames(path)
        try:
            for item in source:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            put(error)
        finally:
            source.close()

    thread = threading.Thread(target=work, name="fer-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = frames.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


class AnnotatedVideoWriter:
    """H.264 MP4 (or VP9 WebM) that plays in a browser; frames must share one size."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        webm = self.path.suffix.lower() == ".webm"
        options = {} if webm else {"movflags": "+faststart"}
        self._container = av.open(str(self.path), mode="w", options=options)
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self._stream = self._container.add_stream("libvpx-vp9" if webm else "libx264", rate=rate)
        self._stream.width, self._stream.height = width - width % 2, height - height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": "32", "b:v": "0", "deadline": "realtime"} if webm else {"crf": "23", "preset": "veryfast"}

    def write(self, image: np.ndarray) -> None:
        image = image[: self._stream.height, : self._stream.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()


@dataclass
class VideoAnalysis:
    """What a video run produced: its timeline, and summaries computed from it."""

    info: VideoInfo
    timeline: pd.DataFrame
    every: int
    frames_decoded: int
    frames_analysed: int
    seconds: float
    stopped: bool = False
    output_path: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def face_ids(self) -> list[int]:
        return sorted(int(i) for i in self.timeline["face_id"].unique()) if len(self.timeline) else []

    def face_summary(self) -> pd.DataFrame:
        """One row per face: when it was seen, its dominant emotion, and the share of time per emotion."""
        return summarize_timeline(self.timeline)

    def emotion_shares(self) -> dict[str, float]:
        """Share of analysed face-frames per emotion, over all faces."""
        if not len(self.timeline):
            return {e: 0.0 for e in EMOTIONS}
        counts = self.timeline["label"].value_counts(normalize=True)
        return {e: round(float(counts.get(e, 0.0)), 4) for e in EMOTIONS}

    def to_dict(self, include_timeline: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "video": self.info.__dict__,
            "every": self.every,
            "frames_decoded": self.frames_decoded,
            "frames_analysed": self.frames_analysed,
            "processing_seconds": round(self.seconds, 3),
            "stopped_early": self.stopped,
            "faces": self.face_summary().to_dict(orient="records"),
            "emotion_share": self.emotion_shares(),
            "settings": self.settings,
        }
        if include_timeline:
            data["timeline"] = self.timeline.to_dict(orient="records")
        return data


def summarize_timeline(timeline: pd.DataFrame) -> pd.DataFrame:
    columns = ["face_id", "first_seen", "last_seen", "frames", "dominant", *[f"share_{e}" for e in EMOTIONS]]
    if not len(timeline):
        return pd.DataFrame(columns=columns)
    rows = []
    for face_id, group in timeline.groupby("face_id", sort=True):
        shares = group["label"].value_counts(normalize=True)
        rows.append(
            {
                "face_id": int(face_id),
                "first_seen": round(float(group["time"].min()), 3),
                "last_seen": round(float(group["time"].max()), 3),
                "frames": int(len(group)),
                "dominant": str(shares.idxmax()),
                **{f"share_{e}": round(float(shares.get(e, 0.0)), 4) for e in EMOTIONS},
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _rows(frame: VideoFrame, faces: list[FaceResult]) -> list[tuple[Any, ...]]:
    """Timeline rows in TIMELINE_COLUMNS order: tuples, not dicts, so a long video's rows stay small."""
    rows = []
    for face in faces:
        rows.append((
            round(frame.time, 4), frame.index, face.track_id, face.box.x, face.box.y, face.box.w, face.box.h,
            *(round(face.probabilities[e], 4) for e in EMOTIONS),
            face.label, round(face.confidence, 4), face.raw_label,
        ))
    return rows


def analyze_video(
    path: str | Path,
    recognizer: EmotionRecognizer,
    every: int = 1,
    target_fps: float | None = None,
    smoothing_window: int = 5,
    detect_every: int = 1,
    output_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    detect_width: int | None = None,
    prefetch: int = 8,
) -> VideoAnalysis:
    """Analyse every `every`-th frame (or about `target_fps` frames a second) of a video file.

    With `output_path`, every frame is written annotated with the latest results, so the copy plays at
    the original rate even when only some frames are analysed.

    `detect_every=K` runs the detector on one analysed frame in K and tracks faces in between;
    `detect_width` detects on a copy that many pixels wide (see `fer_core.stream.FrameProcessor`; the
    fast preset is `detect_every=5, detect_width=320` with YuNet). Frames are decoded `prefetch` ahead in
    a background thread (0 decodes in this thread).
    """
    info = probe_video(path)
    if target_fps:
        every = max(1, int(round(info.fps / target_fps)))
    every = max(1, int(every))
    # Tracks may be missing for a second before they end: count that in analysed frames.
    max_missed = max(2, math.ceil(info.fps / every))
    processor = FrameProcessor(recognizer, detect_every=detect_every, smoothing_window=smoothing_window,
                               max_missed=max_missed, detect_width=detect_width)
    rows: list[tuple[Any, ...]] = []
    writer: AnnotatedVideoWriter | None = None
    faces: list[FaceResult] = []
    decoded = analysed = 0
    stopped = False
    start = time.perf_counter()
    total = max(info.frame_count, 1)
    try:
        for frame in iter_frames(path, prefetch=prefetch):
            decoded += 1
            if frame.index % every == 0:
                faces = processor.process(frame.image)
                rows.extend(_rows(frame, faces))
                analysed += 1
            if output_path is not None:
                if writer is None:
                    h, w = frame.image.shape[:2]
                    writer = AnnotatedVideoWriter(output_path, info.fps, w, h)
                writer.write(draw_faces(frame.image, faces, copy=False))
            if progress is not None and progress(decoded, max(total, decoded)) is False:
                stopped = True
                break
    finally:
        if writer is not None:
            writer.close()
    if decoded == 0:
        raise InvalidVideoError(f"{Path(path).name} has no frames to analyse.")
    timeline = pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
    return VideoAnalysis(
        info=info,
        timeline=timeline,
        every=every,
        frames_decoded=decoded,
        frames_analysed=analysed,
        seconds=time.perf_counter() - start,
        stopped=stopped,
        output_path=Path(output_path) if output_path and writer is not None else None,
        settings={
            "detector": recognizer.detector_name, "model": recognizer.model.name,
            "smoothing_window": smoothing_window, "detect_every": detect_every, "detect_width": detect_width,
            "detector_runs": processor.detections,
        },
    )
