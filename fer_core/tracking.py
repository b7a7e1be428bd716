"""Keeping one id per face across frames, and steadier labels per face.

The tracker matches each new box to the existing track it overlaps most (IoU, then centre distance for
fast moves); unmatched boxes start new tracks; a track not seen for `max_missed` analysed frames ends, so
a face that leaves and comes back later gets a new id instead of a ghost box. The smoother keeps an
exponential moving average of each track's probabilities; the raw values travel beside the smoothed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .results import Box


@dataclass
class Track:
    track_id: int
    box: Box
    missed: int = 0
    hits: int = 1


class IoUTracker:
    """Greedy IoU tracker: cheap, and enough for the few faces of a video or webcam stream."""

    def __init__(self, min_iou: float = 0.2, max_center_shift: float = 0.6, max_missed: int = 10) -> None:
        self.min_iou = min_iou
        self.max_center_shift = max_center_shift
        self.max_missed = max_missed
        self.tracks: dict[int, Track] = {}
        self._next_id = 1

    def _affinity(self, track: Track, box: Box) -> float:
        iou = track.box.iou(box)
        if iou >= self.min_iou:
            return 1.0 + iou
        (tx, ty), (bx, by) = track.box.center, box.center
        size = max(track.box.w, track.box.h, 1)
        shift = float(np.hypot(tx - bx, ty - by)) / size
        return 1.0 - shift if shift <= self.max_center_shift else 0.0

    def update(self, boxes: list[Box]) -> list[int]:
        """Track ids for `boxes`, in their order."""
        pairs = sorted(
            ((self._affinity(t, b), tid, i) for tid, t in self.tracks.items() for i, b in enumerate(boxes)),
            reverse=True,
        )
        assigned: dict[int, int] = {}
        used_tracks: set[int] = set()
        for score, tid, i in pairs:
            if score <= 0 or tid in used_tracks or i in assigned:
                continue
            assigned[i] = tid
            used_tracks.add(tid)
        for i, box in enumerate(boxes):
            if i in assigned:
                track = self.tracks[assigned[i]]
                track.box, track.missed, track.hits = box, 0, track.hits + 1
            else:
                assigned[i] = self._next_id
                self.tracks[self._next_id] = Track(self._next_id, box)
                used_tracks.add(self._next_id)
                self._next_id += 1
        for tid in list(self.tracks):
            if tid not in used_tracks:
                self.tracks[tid].missed += 1
                if self.tracks[tid].missed > self.max_missed:
                    del self.tracks[tid]
        return [assigned[i] for i in range(len(boxes))]

    def reset(self) -> None:
        self.tracks.clear()
        self._next_id = 1


class EmaSmoother:
    """Exponential moving average of probabilities per track; `window=1` turns smoothing off.

    `alpha = 2 / (window + 1)`, the usual span convention: a window of 5 analysed frames weighs the newest
    frame 1/3.
    """

    def __init__(self, window: int = 5) -> None:
        self.window = max(1, int(window))
        self._state: dict[int, np.ndarray] = {}

    @property
    def alpha(self) -> float:
        return 2.0 / (self.window + 1.0)

    def update(self, track_id: int, probabilities: np.ndarray) -> np.ndarray:
        current = np.asarray(probabilities, dtype=np.float64)
        previous = self._state.get(track_id)
        smoothed = current if previous is None or self.window == 1 else self.alpha * current + (1 - self.alpha) * previous
        self._state[track_id] = smoothed
        return smoothed.copy()

    def forget(self, live_ids: set[int]) -> None:
        for tid in list(self._state):
            if tid not in live_ids:
                del self._state[tid]
