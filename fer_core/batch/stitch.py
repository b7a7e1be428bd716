"""Putting a video's chunks back together: rows in time order, one track id per face across the cuts.

Each chunk (`fer_core.batch.plan`) starts its own tracker, so its face ids are local (1, 2, ... in the order
its tracks began) and its first frames have no smoothing history. Chunk i also analyses the first frames
of chunk i + 1 (the overlap). Here:

- chunk i's rows are kept up to the last frame it analysed (its own frames and the overlap, with the
  tracker and smoother it has run since its start); chunk i + 1's rows are kept from the frame after that,
  by which time its tracker and smoother have run through the whole overlap;
- in the overlap frames, each track of chunk i + 1 is matched to the track of chunk i whose boxes cover
  the same face (IoU >= `min_iou`) in the most frames; a matched track keeps chunk i's id, an unmatched
  one (a face that enters after the cut) gets the next unused id of the video.

So a face seen on both sides of a cut keeps one id, ids are unique in the video, and a face that leaves
and comes back later gets a new id, as in a single pass (`fer_core.video.analyze_video`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from ..results import COLUMNS, concat_tables, results_table

if TYPE_CHECKING:
    import pandas as pd

    from .plan import ChunkOutcome

MIN_IOU = 0.5


@dataclass
class Stitched:
    """The video's results table and how its chunks were joined."""

    table: "pd.DataFrame"
    cuts: int = 0  # chunk boundaries
    carried: int = 0  # tracks that kept their id across a cut
    id_maps: list[dict[int, int]] = field(default_factory=list)  # per chunk: local id -> video id


def match_tracks(before: "pd.DataFrame", after: "pd.DataFrame", min_iou: float = MIN_IOU) -> dict[int, int]:
    """{id in `after`: id in `before`} for tracks whose boxes overlap in the frames both tables have.

    Pairs are scored by the number of shared frames where their boxes' IoU is at least `min_iou`, and taken
    greedily from the best, each id at most once.
    """
    if not len(before) or not len(after):
        return {}
    cols = ["frame", "face_id", "x", "y", "w", "h"]
    pairs = before[cols].merge(after[cols], on="frame", suffixes=("_a", "_b"))
    if not len(pairs):
        return {}
    x0 = pairs[["x_a", "x_b"]].max(axis=1)
    y0 = pairs[["y_a", "y_b"]].max(axis=1)
    x1 = (pairs["x_a"] + pairs["w_a"]).combine(pairs["x_b"] + pairs["w_b"], min)
    y1 = (pairs["y_a"] + pairs["h_a"]).combine(pairs["y_b"] + pairs["h_b"], min)
    inter = (x1 - x0).clip(lower=0) * (y1 - y0).clip(lower=0)
    union = pairs["w_a"] * pairs["h_a"] + pairs["w_b"] * pairs["h_b"] - inter
    pairs = pairs.assign(iou=inter / union.where(union > 0, 1))
    scores = pairs[pairs["iou"] >= min_iou].groupby(["face_id_b", "face_id_a"]).size()
    ranked = sorted(((int(n), int(a), int(b)) for (b, a), n in scores.items()), key=lambda s: (-s[0], s[1], s[2]))
    mapping: dict[int, int] = {}
    used: set[int] = set()
    for _, a, b in ranked:
        if b not in mapping and a not in used:
            mapping[b] = a
            used.add(a)
    return mapping


def stitch(outcomes: Sequence["ChunkOutcome"], min_iou: float = MIN_IOU) -> Stitched:
    """One results table for a video from its chunks' outcomes (any order; sorted by chunk here)."""
    ordered = sorted(outcomes, key=lambda o: o.chunk)
    pieces = []
    next_id = 1
    previous: "pd.DataFrame | None" = None  # the previous chunk's rows, with video ids
    previous_stop = 0
    result = Stitched(results_table())
    for outcome in ordered:
        table = outcome.table
        keep_from = max(previous_stop, outcome.first_frame) if previous is not None else outcome.first_frame
        mapping: dict[int, int] = {}
        if previous is not None:
            result.cuts += 1
            shared = previous[previous["frame"] >= outcome.first_frame]
            mapping = match_tracks(shared, table[table["frame"] < previous_stop], min_iou)
            result.carried += len(mapping)
        kept = table[table["frame"] >= keep_from]
        for local in sorted(int(i) for i in kept["face_id"].unique()):
            if local not in mapping:
                mapping[local] = next_id
                next_id += 1
        # Tracks seen only in the dropped overlap rows still get an id, so `previous` below is complete.
        for local in sorted(int(i) for i in table["face_id"].unique()):
            if local not in mapping:
                mapping[local] = next_id
                next_id += 1
        table = table.assign(face_id=table["face_id"].map(mapping).astype("int64"))
        pieces.append(table[table["frame"] >= keep_from])
        result.id_maps.append(mapping)
        previous = table
        previous_stop = max(previous_stop, outcome.stop_frame)
    stitched = concat_tables(pieces)
    if len(stitched):
        stitched = stitched.sort_values(["frame", "x", "y"], kind="stable", ignore_index=True)
    result.table = _renumber(stitched[list(COLUMNS)])
    return result


def _renumber(table: "pd.DataFrame") -> "pd.DataFrame":
    """Ids 1, 2, ... in order of first appearance, without gaps (ids given to tracks that were dropped
    with the overlap rows leave none)."""
    if not len(table):
        return table
    order = {old: new for new, old in enumerate(dict.fromkeys(table["face_id"].tolist()), 1)}
    return table.assign(face_id=table["face_id"].map(order).astype("int64"))
