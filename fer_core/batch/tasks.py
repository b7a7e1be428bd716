"""What runs on a worker: one photo, one video's plan, one chunk of a video. No Dask import here.

Each worker process builds the detector and the classifier once (`recognizer_for`, warmed by the worker
plugin in `fer_core.batch.plugin` when the worker starts) and reuses them for every task it runs. A task
never raises for a bad input: it returns a `Failure` with the error's kind and one sentence, so a corrupt
file becomes a row of the errors table and the job goes on. Results travel back as the project's results
table (`fer_core.results.COLUMNS`), made by the same `FrameProcessor` and `face_rows` as every other input.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FerError, InputNotFoundError, InvalidImageError, InvalidVideoError, UnsupportedInputError
from .plan import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS, Chunk, ChunkOutcome, VideoPlan, plan_chunks

if TYPE_CHECKING:
    from ..pipeline import EmotionRecognizer
    from ..settings import Settings
    from .store import EncodedResult

_RECOGNIZERS: dict[tuple, "EmotionRecognizer"] = {}
_LOCK = threading.Lock()
_LOADS = 0


def recognizer_for(settings: "Settings") -> "EmotionRecognizer":
    """This process's recognizer for `settings`: built on first use, then shared by every task here."""
    global _LOADS
    key = settings.key()
    with _LOCK:
        recognizer = _RECOGNIZERS.get(key)
        if recognizer is None:
            from ..pipeline import EmotionRecognizer

            recognizer = _RECOGNIZERS[key] = EmotionRecognizer(settings)
            _LOADS += 1
            _warm_up(recognizer)
        return recognizer


def _warm_up(recognizer: "EmotionRecognizer") -> None:
    """One detection, one classification and one (empty) results table: the first real call of each costs
    ten times a normal one (buffers allocated, kernels chosen, pandas imported), which would otherwise land
    on the first photo."""
    import numpy as np

    from ..io import load_image  # noqa: F401 - Pillow
    from ..results import results_table

    results_table()

    recognizer.detect(np.zeros((240, 320, 3), dtype=np.uint8))
    size = recognizer.model.input_size
    recognizer.classify_crops(np.zeros((1, size, size, 1), dtype=np.float32))


def loads() -> int:
    """How many times this process has built a recognizer (1 per worker and settings when all is well)."""
    return _LOADS


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- outcomes ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Failure:
    """Why a file could not be analysed: `kind` (missing, empty, unsupported, corrupt, unreadable, failed)
    and one sentence for the errors table."""

    kind: str
    reason: str


def failure_for(error: BaseException, name: str) -> Failure:
    """The errors table's kind and sentence for an exception raised while reading or analysing a file."""
    if isinstance(error, InputNotFoundError):
        return Failure("missing", f"{name} no longer exists.")
    if isinstance(error, (InvalidImageError, InvalidVideoError)):
        return Failure("empty" if "(0 bytes)" in str(error) else "corrupt", str(error))
    if isinstance(error, UnsupportedInputError):
        return Failure("unsupported", str(error))
    if isinstance(error, FerError):
        return Failure("failed", str(error))
    if isinstance(error, PermissionError):
        return Failure("unreadable", f"{name} could not be read: permission denied.")
    if isinstance(error, OSError):
        return Failure("unreadable", f"{name} could not be read ({error.strerror or type(error).__name__}).")
    if isinstance(error, MemoryError):
        return Failure("failed", f"{name} needs more memory than this worker has.")
    text = str(error).splitlines()[0] if str(error) else ""
    return Failure("failed", f"{name} failed with an unexpected {type(error).__name__}{': ' + text if text else ''}.")


def _check_file(path: Path, name: str) -> Failure | None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return Failure("missing", f"{name} no longer exists.")
    except OSError as error:
        return failure_for(error, name)
    if size == 0:
        return Failure("empty", f"{name} is empty (0 bytes).")
    return None


# --- tasks ------------------------------------------------------------------------------------------------

def analyze_photo(path: str, source: str, key: str, settings: "Settings") -> "EncodedResult | Failure":
    """One photo through the frame path (with the second look of `EmotionRecognizer.find_faces`), encoded
    for its partition here on the worker."""
    from ..io import load_photo
    from ..results import faces_table, scale_faces
    from .store import encode_result

    start = time.perf_counter()
    file = Path(path)
    bad = _check_file(file, source)
    if bad is not None:
        return bad
    try:
        photo = load_photo(file)  # a JPEG over the pixel bound decoded reduced, its boxes mapped back
        faces = scale_faces(recognizer_for(settings).analyze(photo.image), photo.scale)
        table = faces_table(faces, source)
        result = encode_result(source, key, "photo", table, {
            "width": photo.width, "height": photo.height, "frames_analysed": 1,
            "seconds": round(time.perf_counter() - start, 4)})
    except Exception as error:  # noqa: BLE001 - every failure becomes an errors-table row
        return failure_for(error, source)
    result.worker, result.loads = worker_id(), loads()
    return result


def plan_video(path: str, source: str, every: int = 1, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
               overlap_seconds: float = DEFAULT_OVERLAP_SECONDS) -> VideoPlan | Failure:
    """Read a video's packets (no decoding) and cut it into chunks (`fer_core.batch.plan`)."""
    from ..video import VideoReader

    file = Path(path)
    bad = _check_file(file, source)
    if bad is not None:
        return bad
    try:
        with VideoReader(file) as reader:
            info = reader.info
            index = reader.index()
    except Exception as error:  # noqa: BLE001
        return failure_for(error, source)
    return plan_chunks(info, index, chunk_seconds=chunk_seconds, overlap_seconds=overlap_seconds, every=every)


def analyze_chunk(path: str, source: str, chunk: Chunk, settings: "Settings", every: int, fps: float,
                  prefetch: int = 8) -> ChunkOutcome | Failure:
    """Seek to the chunk's first frame and analyse its frames and its overlap, as `analyze_video` would.

    Every `every`-th frame of the *video* is analysed (frame indices are the video's, not the chunk's), and
    a track may be missing for a second of analysed frames before it ends, as in `analyze_video`.
    """
    from ..results import TableBuilder
    from ..stream import FrameProcessor
    from ..video import VideoReader

    start = time.perf_counter()
    file = Path(path)
    bad = _check_file(file, source)
    if bad is not None:
        return bad
    decoded = analysed = 0
    stop = chunk.first_frame
    builder = TableBuilder()
    try:
        processor = FrameProcessor(recognizer_for(settings), settings, max_missed=max(2, math.ceil(fps / every)))
        positions = {p: chunk.first_frame + i for i, p in enumerate(chunk.pts)} if chunk.pts else None
        last_pts = chunk.pts[-1] if chunk.pts else None
        with VideoReader(file) as reader:
            frames = reader.frames(prefetch=prefetch, start_pts=chunk.start_pts, first_index=chunk.first_frame)
            try:
                for frame in frames:
                    if last_pts is not None and frame.pts is not None and frame.pts > last_pts:
                        break
                    index = positions.get(frame.pts, frame.index) if positions else frame.index
                    decoded += 1
                    if index % every == 0:
                        builder.add(processor.process(frame.image), source, index, frame.time)
                        analysed += 1
                    stop = index + 1
            finally:
                frames.close()  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001
        return failure_for(error, source)
    if decoded == 0 and chunk.index == 0:
        return Failure("corrupt", f"{source} has no frames to analyse.")
    owned_end = chunk.first_frame + chunk.owned if chunk.pts else stop
    return ChunkOutcome(chunk.index, chunk.first_frame, stop, owned_end, builder.table(), decoded, analysed,
                        time.perf_counter() - start, worker_id(), loads())


def finish_video(source: str, key: str, plan: VideoPlan, every: int,
                 *outcomes: "ChunkOutcome | Failure") -> "EncodedResult | Failure":
    """A video's chunks stitched back together (`fer_core.batch.stitch`) and encoded for its partition.

    Runs on a worker, as a task that depends on the chunk tasks: the chunks' rows go from worker to worker,
    never through the client. The first failed chunk fails the video (a rerun retries it whole).
    """
    from .plan import analysed_frames
    from .stitch import stitch
    from .store import encode_result

    for outcome in outcomes:
        if isinstance(outcome, Failure):
            return outcome
    chunks: list[ChunkOutcome] = list(outcomes)  # type: ignore[arg-type]
    try:
        table = stitch(chunks).table
        info = plan.info
        result = encode_result(source, key, "video", table, {
            "width": info.width, "height": info.height, "duration": round(info.duration, 4),
            "fps": round(info.fps, 4), "chunks": len(chunks),
            "frames_analysed": sum(analysed_frames(o.first_frame, min(o.owned_end, o.stop_frame), every)
                                   for o in chunks),
            "seconds": round(sum(o.seconds for o in chunks), 4)})
    except Exception as error:  # noqa: BLE001
        return failure_for(error, source)
    result.worker, result.loads = worker_id(), loads()
    return result
