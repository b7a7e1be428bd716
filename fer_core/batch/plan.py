"""How a video is cut into tasks: time chunks that start on keyframes, each running a little into the next.

A chunk starts on a keyframe, so a worker seeks straight to it (PyAV) and decodes nothing that belongs to
the chunk before. Chunks are at least `chunk_seconds` long; a video whose keyframes are further apart gets
longer chunks, and one with a single keyframe (or no usable timestamps) is one task. Each chunk also
analyses an *overlap*: the first frames of the next chunk (at least `overlap_seconds` and `min_overlap`
analysed frames). Those frames are analysed twice, by two workers; `fer_core.batch.stitch` uses them to
give a face the same track id on both sides of the cut, and keeps the earlier chunk's rows for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..video import FrameIndex, VideoInfo

DEFAULT_CHUNK_SECONDS = 20.0
DEFAULT_OVERLAP_SECONDS = 1.0
MIN_OVERLAP_FRAMES = 5


@dataclass(frozen=True)
class Chunk:
    """The frames one task analyses: `pts[:owned]` are its own, `pts[owned:]` the overlap into the next.

    `first_frame` is the index in the video of `pts[0]`. `pts` is None for a video read from the start
    without timestamps (one chunk, the whole video).
    """

    index: int
    first_frame: int
    pts: tuple[int, ...] | None
    owned: int
    start_time: float
    end_time: float

    @property
    def start_pts(self) -> int | None:
        return self.pts[0] if self.pts else None

    @property
    def frames(self) -> int:
        """Frames this chunk decodes (its own and the overlap); 0 when unknown."""
        return len(self.pts) if self.pts else 0


@dataclass(frozen=True)
class VideoPlan:
    """A video's facts and its chunks, in time order."""

    info: "VideoInfo"
    frames: int  # frames in the video (from the packets; the header's estimate when they gave no times)
    chunks: tuple[Chunk, ...]
    time_base: Fraction | None = None


@dataclass
class ChunkOutcome:
    """One chunk's rows (own frames and overlap) and what was decoded; `stop_frame` is one past the last
    frame it analysed or skipped, so the stitcher knows where its rows end even when the last frames had
    no face. Made by the chunk task (`tasks.analyze_chunk`), joined by `stitch.stitch`: it lives here,
    below both, so the two import it and not each other."""

    chunk: int
    first_frame: int
    stop_frame: int
    owned_end: int
    table: "pd.DataFrame"
    frames_decoded: int
    frames_analysed: int
    seconds: float
    worker: str
    loads: int


def plan_chunks(info: "VideoInfo", index: "FrameIndex", chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                overlap_seconds: float = DEFAULT_OVERLAP_SECONDS, every: int = 1,
                min_overlap: int = MIN_OVERLAP_FRAMES) -> VideoPlan:
    """Cut a video into chunks of at least `chunk_seconds` that start on keyframes.

    `every` is the analysis stride (every Nth frame): the overlap holds at least `min_overlap` analysed
    frames whatever the stride, so tracks can be matched across the cut. A last piece shorter than twice
    the overlap is not made a chunk of its own.
    """
    if not index.complete or chunk_seconds <= 0:
        return _whole(info, index)
    pts = index.pts
    n = len(pts)
    starts = [0]
    for k in index.keyframes[1:]:
        t = index.time(k)
        if t - index.time(starts[-1]) >= chunk_seconds and index.time(n - 1) - t >= 2 * overlap_seconds:
            starts.append(k)
    chunks = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else n
        stop = end
        if end < n:  # run into the next chunk: overlap_seconds, and at least min_overlap analysed frames
            limit = index.time(end) + overlap_seconds
            analysed = 0
            while stop < n and (index.time(stop) < limit or analysed < min_overlap):
                analysed += stop % every == 0
                stop += 1
        chunks.append(Chunk(
            index=i, first_frame=start, pts=pts[start:stop], owned=end - start,
            start_time=round(index.time(start), 4),
            end_time=round(index.time(end) if end < n else index.time(n - 1), 4),
        ))
    return VideoPlan(info, n, tuple(chunks), index.time_base)


def analysed_frames(start: int, stop: int, every: int) -> int:
    """How many frame indices in [start, stop) are multiples of `every`: the frames analysed there."""
    return max(0, -(-stop // every) - -(-start // every))


def _whole(info: "VideoInfo", index: "FrameIndex") -> VideoPlan:
    frames = len(index.pts) if index.pts else info.frame_count
    chunk = Chunk(index=0, first_frame=0, pts=None, owned=frames, start_time=0.0, end_time=round(info.duration, 4))
    return VideoPlan(info, frames, (chunk,), index.time_base)
