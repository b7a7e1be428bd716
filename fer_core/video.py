"""Video files and network streams: opened once, decoded one frame at a time, every Nth frame through the
frame path.

Nothing holds more than a few decoded frames: a ten-minute video costs the same memory as a ten-second one,
apart from the results table's rows. Each analysed frame goes through `fer_core.stream.FrameProcessor`
(detect, crop, classify in one batch, track, smooth) and its faces become rows of the results table
(`fer_core.results.COLUMNS`). The annotated copy is written as H.264 MP4 (yuv420p, fast start), which every
browser plays, or VP9 WebM when the output name ends in .webm.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import av
import numpy as np

from .annotate import draw_faces
from .errors import InputNotFoundError, InvalidVideoError
from .io import check_stream_url, stream_name, url_scheme
from .pipeline import EmotionRecognizer
from .provenance import provenance, stamp
from .results import FaceResult, TableBuilder, face_rows, records, summarize, utc_clock
from .results_csv import LiveResultsCsv
from .settings import Settings
from .stream import FrameProcessor

STREAM_TIMEOUT = 10.0
"""Seconds a network stream may stay silent (to open, then between packets) before it counts as ended."""

if TYPE_CHECKING:
    import pandas as pd

ProgressCallback = Callable[[int, int], "bool | None"]
"""Called as progress(frames_done, frames_total_estimate); return False to stop early."""


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
    pts: int | None = None  # the frame's presentation time in the stream's time base (seeking, batch chunks)


@dataclass(frozen=True)
class FrameIndex:
    """Where every frame of a video is, read from the container's packets without decoding a pixel.

    `pts` are the presentation times (in `time_base` units) of the frames a decoder outputs, in order, so
    `pts[i]` is frame i (packets the container marks as discarded, such as an edit list's lead-in, are left
    out, as the decoder leaves them out). `keyframes` are the positions in `pts` where decoding can start
    after a seek. `complete` is False when the container gave no usable times (then seeking by time is
    not possible and the video is read from the start). `origin` is the stream's start (`pts` of time 0):
    `time()` counts from it, as `VideoReader.frames` does.
    """

    pts: tuple[int, ...]
    keyframes: tuple[int, ...]
    time_base: Fraction
    complete: bool = True
    origin: int = 0

    def time(self, position: int) -> float:
        return float((self.pts[position] - self.origin) * self.time_base)


class VideoReader:
    """One open video: its header facts (`info`) and its frames, from a single open of the file.

    Use as a context manager. `frames(prefetch=N)` decodes up to N frames ahead in a background thread
    (PyAV releases the GIL while decoding, so on two cores decoding is nearly free); memory stays bounded
    at N frames and stopping early stops the thread. A stream damaged part-way ends at the damage.
    """

    def __init__(self, path: str | Path, stream_timeout: float | None = None) -> None:
        self.is_stream = url_scheme(path) is not None  # an address: read live, times from its first frame
        self.path: str | Path = str(path) if self.is_stream else Path(path)
        self.name = stream_name(str(path)) if self.is_stream else Path(path).name  # in messages and tables
        self._timeout = STREAM_TIMEOUT if stream_timeout is None else stream_timeout
        self._decoders: list[threading.Thread] = []  # prefetching threads (`frames(prefetch=...)`)
        if self.is_stream:
            check_stream_url(str(path))  # one sentence for an address of a kind this tool cannot read
            self._container = _open_stream(str(path), self._timeout)
        else:
            self._container = _open_file(Path(path))
        if not self._container.streams.video:
            self._container.close()
            raise InvalidVideoError(f"{self.name} has no video stream, so no frames to analyse.")
        self._stream = self._container.streams.video[0]
        self.info = self._read_info()
        self._used = False
        self.broke_off = False  # set when decoding failed after some frames: a damaged tail, a silent stream

    def _read_info(self) -> VideoInfo:
        stream = self._stream
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        if not duration and self._container.duration:
            duration = self._container.duration / 1_000_000
        frames = stream.frames or int(round(duration * fps))
        return VideoInfo(stream.width, stream.height, fps, frames, duration, stream.codec_context.name)

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if any(thread.is_alive() for thread in self._decoders):
            # Still inside a read (a stream gone silent, left at a second Ctrl-C): closing the container under
            # it crashes FFmpeg. The read ends at its timeout, and the container goes with the thread.
            return
        self._container.close()

    def _decode(self, start_pts: int | None = None, first_index: int = 0) -> Iterator[VideoFrame]:
        if self._used:
            raise RuntimeError("a VideoReader's frames can be read once; open the video again")
        self._used = True
        self._stream.thread_type = "AUTO"
        fps = self.info.fps or 25.0
        index = first_index
        # Times count from the start: a file's start time (MPEG program streams start at about 0.5 s), a
        # stream's first frame (its clock starts anywhere).
        first_time = None if self.is_stream else float(self._origin() * (self._stream.time_base or 0))
        try:
            decoded = self._container.decode(self._stream) if start_pts is None else self._decoded_from(start_pts)
            for frame in decoded:  # after a seek, the frames before start_pts are skipped
                if start_pts is not None and frame.pts is not None and frame.pts < start_pts:
                    continue
                if frame.time is None:
                    t = index / fps
                else:
                    first_time = float(frame.time) if first_time is None else first_time
                    t = float(frame.time) - first_time
                yield VideoFrame(index, t, frame.to_ndarray(format="bgr24"), frame.pts)
                index += 1
        except (av.FFmpegError, OSError, ValueError):
            if index == first_index and self.is_stream:
                raise InvalidVideoError(f"The stream {self.name} sent no frame within {self._timeout:g} s.") from None
            if index == first_index:
                raise InvalidVideoError(f"{self.name} could not be decoded (damaged video).") from None
            self.broke_off = True

    def _decoded_from(self, start_pts: int) -> Iterator[Any]:
        """Decoded frames from the keyframe at or before `start_pts`. Some demuxers (MPEG program and
        transport streams: .mpg, .ts) land on the keyframe after the target instead, which would lose the
        frames in between; then the seek is repeated from further back, twice as far each time."""
        stream = self._stream
        floor = self._origin()
        back = max(1, round(1 / stream.time_base)) if stream.time_base else 1  # one second, to begin with
        target = start_pts
        while True:
            at_start = target <= floor
            try:
                if at_start:  # the container's own start (its time base): seeking there by the stream can miss too
                    self._container.seek(0, backward=True, any_frame=False)
                else:
                    self._container.seek(target, stream=stream, backward=True, any_frame=False)
            except (av.FFmpegError, OSError, ValueError):
                raise InvalidVideoError(f"{self.name} could not be read from {start_pts} (seek failed).") from None
            frames = self._container.decode(stream)
            first = next(frames, None)
            if at_start or (first is not None and (first.pts is None or first.pts <= start_pts)):
                if first is not None:
                    yield first
                for frame in frames:  # not `yield from`: PyAV's generator may end by raising StopIteration
                    yield frame
                return
            target, back = max(floor, target - back), back * 2

    def frames(self, prefetch: int = 0, start_pts: int | None = None, first_index: int = 0,
               should_stop: Callable[[], bool] | None = None) -> Iterator[VideoFrame]:
        """Every frame as BGR, lazily (decoded `prefetch` frames ahead in a thread when above 0).

        `start_pts` seeks first and starts at the first frame shown at or after that time (in the stream's
        time base, e.g. a position from `index()`), numbering frames from `first_index`: how a batch job
        decodes one time chunk of a long video without decoding what comes before it. With prefetching,
        `should_stop()` is asked while no frame is ready (a stream gone quiet): True ends the frames there.
        """
        frames = self._decode(start_pts, first_index)
        if prefetch and prefetch > 0:
            return _prefetched(frames, int(prefetch), self._decoders.append, should_stop)
        return frames

    def index(self) -> FrameIndex:
        """Every frame's presentation time and the keyframes, from the packets alone (no decoding).

        Reads the whole file once (demuxing costs a small fraction of decoding), so it can be planned how to
        cut a long video into chunks that each start on a keyframe. Use it instead of `frames()` on this
        reader (open the video again to decode).
        """
        if self._used:
            raise RuntimeError("a VideoReader can be indexed or read once; open the video again")
        self._used = True
        stream = self._stream
        entries: list[tuple[int, bool]] = []
        complete = True
        try:
            for packet in self._container.demux(stream):
                if not packet.size or packet.is_discard:
                    continue
                if packet.pts is None:
                    complete = False
                    break
                entries.append((int(packet.pts), bool(packet.is_keyframe)))
        except (av.FFmpegError, OSError, ValueError):
            complete = bool(entries) and complete  # a damaged tail: the frames up to it are still indexed
        entries.sort()
        pts = tuple(p for p, _ in entries)
        keyframes = tuple(i for i, (_, key) in enumerate(entries) if key)
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000)
        if not pts or not keyframes or keyframes[0] != 0:
            complete = False
        return FrameIndex(pts, keyframes, time_base, complete, self._origin())

    def _origin(self) -> int:
        """The stream's start time in its time base (0 when the container does not say)."""
        return int(self._stream.start_time or 0)


def _open_file(path: Path) -> Any:
    if not path.exists():
        raise InputNotFoundError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise InvalidVideoError(f"{path.name} is empty (0 bytes).")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        raise InvalidVideoError(f"{path.name} is not a video this tool can decode (damaged or unknown format).") from None


def _open_stream(url: str, timeout: float) -> Any:
    """FFmpeg opens the URL; `timeout` seconds without data (to open, then between reads) end the wait."""
    start = time.perf_counter()
    try:
        return av.open(url, metadata_errors="ignore", timeout=(timeout, timeout))
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
        if isinstance(error, av.error.ExitError) or time.perf_counter() - start >= timeout:
            reason = f"nothing arrived within {timeout:g} s"
        else:
            reason = (getattr(error, "strerror", None) or "not a video stream").rstrip(".").lower()
        raise InvalidVideoError(f"The stream {stream_name(url)} could not be opened ({reason}).") from None


def probe_video(path: str | Path) -> VideoInfo:
    """Size, rate, length and codec, from the container's header."""
    with VideoReader(path) as reader:
        return reader.info


def iter_frames(path: str | Path, prefetch: int = 0) -> Iterator[VideoFrame]:
    """Every frame of a file as BGR, lazily; the file is closed when the iteration ends or is closed."""
    reader = VideoReader(path)  # errors (missing, unreadable) here, in the caller's thread
    return _closing(reader, reader.frames(prefetch))


def _closing(reader: VideoReader, frames: Iterator[VideoFrame]) -> Iterator[VideoFrame]:
    try:
        yield from frames
    finally:
        frames.close()  # type: ignore[attr-defined]
        reader.close()


_END = object()


def _prefetched(source: Iterator[VideoFrame], size: int, on_thread: Callable[[threading.Thread], None],
                should_stop: Callable[[], bool] | None = None) -> Iterator[VideoFrame]:
    """`source` decoded in a thread (handed to `on_thread`), at most `size` frames ahead; `should_stop()` is
    asked every quarter second while no frame is ready."""
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
        try:
            for item in source:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            put(error)
        finally:
            source.close()  # type: ignore[attr-defined]

    thread = threading.Thread(target=work, name="fer-decode", daemon=True)
    on_thread(thread)
    thread.start()
    try:
        while True:
            try:
                item = frames.get(timeout=0.25)
            except queue.Empty:
                if should_stop is not None and should_stop():
                    return
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=1)  # a decoder ends within a frame; a read of a silent stream, at its timeout


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
    """What a video run produced: the results table (one row per face per analysed frame) and run facts."""

    info: VideoInfo
    table: "pd.DataFrame"
    every: int
    frames_decoded: int
    frames_analysed: int
    seconds: float
    stopped: bool = False
    broke_off: bool = False  # decoding failed part-way (a damaged tail, a stream silent for STREAM_TIMEOUT)
    last_time: float = 0.0  # time of the last decoded frame, in seconds: where a stopped or live run ended
    output_path: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def face_ids(self) -> list[int]:
        """The faces followed (tracks too short to count left out: `results.MIN_TRACK_FRAMES`, `MIN_TRACK_SECONDS`)."""
        from .results import face_ids

        return face_ids(self.table)

    @property
    def short_track_ids(self) -> list[int]:
        """Tracks too short to count as faces (their rows stay in `table`, marked `short_track`)."""
        from .results import short_track_ids

        return short_track_ids(self.table)

    def to_dict(self, include_results: bool = True) -> dict[str, Any]:
        """The run as JSON: facts, `summary` (one row per face, `results.summarize`) and the table's rows."""
        data: dict[str, Any] = {
            "video": asdict(self.info),
            "every": self.every,
            "frames_decoded": self.frames_decoded,
            "frames_analysed": self.frames_analysed,
            "processing_seconds": round(self.seconds, 3),
            "stopped_early": self.stopped,
            "last_frame_time": round(self.last_time, 3),
            "broke_off": self.broke_off,
            "settings": self.settings,
            "summary": records(summarize(self.table)),
        }
        if include_results:
            data["results"] = records(self.table)
        return data


def analyze_video(
    path: str | Path,
    recognizer: EmotionRecognizer,
    settings: Settings | None = None,
    every: int = 1,
    target_fps: float | None = None,
    output_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    prefetch: int = 8,
    source: str | None = None,
    results_csv: LiveResultsCsv | None = None,
) -> VideoAnalysis:
    """Analyse every `every`-th frame (or about `target_fps` frames a second) of a video file, or of a network
    stream given as a URL string (`io.STREAM_SCHEMES`), which is read until it ends or `progress` stops it.

    The video is opened once. Each analysed frame goes through a `FrameProcessor` with `settings` (default:
    the recognizer's; `detect_every`, `detect_width`, `smoothing`). With `output_path`, every frame is
    written annotated with the latest results, so the copy plays at the original rate even when only some
    frames are analysed. Frames are decoded `prefetch` ahead in a background thread (0: in this thread).
    `source` names the video in the table (default: the file name). With `results_csv`, the rows also go to
    that file as they are settled, so a run that crashes or is killed keeps them (the caller closes it).
    """
    settings = settings or recognizer.settings
    builder = TableBuilder()
    writer: AnnotatedVideoWriter | None = None
    faces: list[FaceResult] = []
    decoded = analysed = 0
    started: float | None = None  # a live stream's time 0 on the wall clock (for the `clock` column)
    last_time = 0.0
    stopped = False
    start = time.perf_counter()
    with VideoReader(path) as reader:
        info = reader.info
        name = source or reader.name
        if target_fps:
            every = max(1, int(round(info.fps / target_fps)))
        every = max(1, int(every))
        # Tracks may be missing for a second before they end: count that in analysed frames.
        processor = FrameProcessor(recognizer, settings, max_missed=max(2, math.ceil(info.fps / every)))
        total = max(info.frame_count, 1)
        asked_to_stop = False

        def stop_while_waiting() -> bool:  # a stream gone quiet: the progress callback may still stop the run
            nonlocal asked_to_stop
            if results_csv is not None and analysed:  # and the rows that came before the quiet reach the file
                results_csv.add([], name, processor.tracker.tracks.keys())
            asked_to_stop = progress is not None and progress(decoded, max(total, decoded)) is False
            return asked_to_stop

        frames = reader.frames(prefetch=prefetch, should_stop=stop_while_waiting)
        try:
            for frame in frames:
                decoded += 1
                last_time = frame.time
                if started is None and reader.is_stream:
                    started = time.time() - frame.time  # the wall clock of the stream's time 0
                if frame.index % every == 0:
                    faces = processor.process(frame.image)
                    clock = utc_clock(started + frame.time) if started is not None else None
                    rows = face_rows(faces, name, frame.index, frame.time, clock)
                    builder.rows.extend(rows)
                    if results_csv is not None:
                        results_csv.add(rows, name, processor.tracker.tracks.keys())
                    analysed += 1
                if output_path is not None:
                    if writer is None:
                        h, w = frame.image.shape[:2]
                        writer = AnnotatedVideoWriter(output_path, info.fps, w, h)
                    writer.write(draw_faces(frame.image, faces, copy=False))
                if progress is not None and progress(decoded, max(total, decoded)) is False:
                    stopped = True
                    break
            stopped = stopped or asked_to_stop
        finally:
            frames.close()  # type: ignore[attr-defined]
            if writer is not None:
                writer.close()
            if results_csv is not None and analysed:
                results_csv.add([], name)  # the video is over, and so are its tracks
    if decoded == 0:
        raise InvalidVideoError(f"{name} has no frames to analyse.")
    return VideoAnalysis(
        info=info,
        table=stamp(builder.table(), provenance(recognizer, settings, every=every, fps=target_fps)),  # what made it
        every=every,
        frames_decoded=decoded,
        frames_analysed=analysed,
        seconds=time.perf_counter() - start,
        stopped=stopped,
        broke_off=reader.broke_off,
        last_time=last_time,
        output_path=Path(output_path) if output_path and writer is not None else None,
        settings={
            "detector": recognizer.detector_name, "model": recognizer.model.name,
            "level_eyes": settings.level_eyes, "smoothing": settings.smoothing,
            "detect_every": settings.detect_every, "detect_width": settings.detect_width,
            "detector_runs": processor.detections,
        },
    )
