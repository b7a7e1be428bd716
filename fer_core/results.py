"""The results model: `Box`, `FaceResult`, and the one table every producer writes and every consumer reads.

Photos, videos, the webcam and folder runs all end in the same pandas DataFrame, one row per face per
analysed frame, with the columns in `COLUMNS` (documented there). Charts, tables, the CSV / JSON / Parquet
exports and the summaries all start from that table, so a new view is derived from it, not built from
`FaceResult` objects a second time. `summarize` is the one summary: per face (or per file, or over the
whole table) when it was seen, its dominant emotion and the share of its frames per emotion.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from .emotions import EMOTIONS

if TYPE_CHECKING:  # pandas is imported where a table is made: a photo on the command line never needs it
    import pandas as pd

Point = tuple[float, float]

@dataclass(frozen=True)
class Box:
    """A face rectangle in frame pixels, the detector's confidence and, from YuNet, five landmarks.

    `landmarks` are YuNet's five (x, y) points in its order: right eye, left eye, nose tip, right and left
    mouth corner ("right" is the person's right, on the left of the image). The crop uses the eyes to level
    them; a detector without landmarks (the Haar cascade) leaves None and the crop stays upright.
    """

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    landmarks: tuple[Point, ...] | None = field(default=None, compare=False)

    @property
    def area(self) -> int:
        return self.w * self.h

    @property
    def center(self) -> Point:
        return (self.x + self.w / 2, self.y + self.h / 2)

    @property
    def eyes(self) -> tuple[Point, Point] | None:
        """(right eye, left eye) as seen in the image: the first is the one further left."""
        if not self.landmarks or len(self.landmarks) < 2:
            return None
        return self.landmarks[0], self.landmarks[1]

    @property
    def roll_degrees(self) -> float:
        """How far the line through the eyes is tilted from horizontal (0 without landmarks).

        Positive when the person's left eye (right in the image) is lower, i.e. the head leans to its left.
        """
        eyes = self.eyes
        if eyes is None:
            return 0.0
        (rx, ry), (lx, ly) = eyes
        return math.degrees(math.atan2(ly - ry, lx - rx))

    def scaled(self, factor: float) -> "Box":
        """The same box in a frame `factor` times as large (a downscaled photo's box mapped back to the file)."""
        if factor == 1:
            return self
        marks = tuple((px * factor, py * factor) for px, py in self.landmarks) if self.landmarks else None
        return Box(round(self.x * factor), round(self.y * factor), round(self.w * factor), round(self.h * factor),
                   self.score, marks)

    def iou(self, other: "Box") -> float:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x + self.w, other.x + other.w), min(self.y + self.h, other.y + other.h)
        inter = max(0, x1 - x0) * max(0, y1 - y0)
        union = self.area + other.area - inter
        return inter / union if union else 0.0


@dataclass(frozen=True)
class FaceResult:
    """One face in one frame: where it is, what the model said, and (video, webcam) its track.

    `probabilities` is the model's output for this frame alone. In a video or a live stream the tracker
    gives the face a `track_id` and the smoother an average over recent frames (`smoothed`), whose argmax
    is the label shown to the user (`smoothed_label`); for a photo both labels are the same.
    """

    box: Box
    probabilities: dict[str, float]
    track_id: int | None = None
    smoothed: dict[str, float] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """The model's label for this frame alone."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    @property
    def smoothed_label(self) -> str:
        """The label to show: steadied over time where there is a track, else the frame's own."""
        shown = self.smoothed or self.probabilities
        return max(shown, key=shown.__getitem__)

    @property
    def smoothed_confidence(self) -> float:
        shown = self.smoothed or self.probabilities
        return shown[self.smoothed_label]


def scale_faces(faces: Sequence[FaceResult], factor: float) -> list[FaceResult]:
    """`faces` with their boxes mapped to a frame `factor` times as large (see `fer_core.io.Photo.scale`)."""
    from dataclasses import replace

    return [replace(face, box=face.box.scaled(factor)) for face in faces]


def probabilities_dict(values: Sequence[float] | np.ndarray, classes: Sequence[str] = EMOTIONS) -> dict[str, float]:
    """The model's output row as {class name: probability}."""
    return {name: float(v) for name, v in zip(classes, values)}


# --- the table -----------------------------------------------------------------------------------------

COLUMNS: tuple[str, ...] = (
    "source", "frame", "time", "clock", "face_id", "x", "y", "w", "h", "detector_score",
    *EMOTIONS, "label", "smoothed_label", "short_track",
)
"""The results table's columns, in order. One row per face per analysed frame.

- `source`: the file name (a folder run: the path inside the folder; the webcam: "webcam").
- `frame`: the frame's index in the video (0 for a photo).
- `time`: seconds from the start of the video or stream (empty for a photo).
- `clock`: for a live source (a network stream, the webcam) the UTC date and time of the frame, ISO 8601 to
  the millisecond (`2026-11-27T05:46:32.125Z`): when its first frame arrived plus `time`, so a camera
  watched for days says when each face was there. Empty for files and photos, whose own clock is unknown.
- `face_id`: the track id in a video or stream (the same face keeps it); in a photo 1, 2, ... in reading order
  (rows top to bottom, left to right in a row: `fer_core.pipeline.reading_order`).
- `x`, `y`, `w`, `h`: the face box in the frame's pixels (a photo's own pixels, also when the dashboard
  analysed a downscaled copy); `detector_score`: the detector's own score, which is not comparable between
  detectors (YuNet: a confidence from 0 to 1; the Haar cascade: how many overlapping windows found the face).
- `angry` ... `neutral`: the model's probabilities for this face in this frame (they sum to 1).
- `label`: the most likely emotion in this frame; `smoothed_label`: the label after smoothing over the
  face's recent frames (what annotations and summaries show; equal to `label` for a photo).
- `short_track`: True for every row of a track followed for fewer than `MIN_TRACK_FRAMES` analysed frames
  or less than `MIN_TRACK_SECONDS` (video, webcam): most often a false detection for a moment (a pattern
  in the background, a hand). Such rows stay in the table and its exports, marked; `summarize`, the face
  counts and the charts leave them out. Always False for a photo.
"""

MIN_TRACK_FRAMES = 5
"""A track seen in fewer analysed frames than this is not counted as a face (see `short_track`)."""
MIN_TRACK_SECONDS = 0.5
"""A track followed for less time than this (last seen - first seen) is not counted as a face."""

PROBABILITY_DIGITS = 4
_DTYPES: dict[str, str] = {
    "source": "object", "frame": "int64", "time": "float64", "clock": "object", "face_id": "int64",
    "x": "int64", "y": "int64", "w": "int64", "h": "int64", "detector_score": "float64",
    **{e: "float64" for e in EMOTIONS}, "label": "object", "smoothed_label": "object", "short_track": "bool",
}

Row = tuple[Any, ...]


def face_rows(faces: Sequence[FaceResult], source: str, frame: int = 0, time: float | None = None,
              clock: str | None = None) -> list[Row]:
    """Table rows (tuples in `COLUMNS` order) for the faces of one frame (`clock`: from `utc_clock`).

    Tuples rather than dicts: a long video's rows then cost a third of the memory. A face without a track
    id (a photo) is numbered by its position in `faces`, 1 first (a photo's faces come in reading order).
    """
    t = float("nan") if time is None else round(float(time), 4)
    rows = []
    for position, face in enumerate(faces, 1):
        b = face.box
        rows.append((
            source, int(frame), t, clock, face.track_id if face.track_id is not None else position,
            b.x, b.y, b.w, b.h, round(float(b.score), PROBABILITY_DIGITS),
            *(round(face.probabilities.get(e, 0.0), PROBABILITY_DIGITS) for e in EMOTIONS),
            face.label, face.smoothed_label, False,  # short_track: known once the track is over (results_table)
        ))
    return rows


def utc_clock(seconds: float) -> str:
    """A `clock` value: seconds since the epoch (`time.time()`) as UTC, ISO 8601, to the millisecond."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def results_table(rows: Iterable[Row] = (), mark_short: bool = True) -> "pd.DataFrame":
    """The results table from rows made by `face_rows` (an empty table, with its columns, from none), with
    `short_track` set from the whole of each track (`mark_short=False`: as the rows give it, for a writer
    that knows more tracks than these rows hold, `results_csv.LiveResultsCsv`)."""
    import pandas as pd

    table = pd.DataFrame(list(rows), columns=list(COLUMNS)).astype(_DTYPES)
    return mark_short_tracks(table) if mark_short else table


def mark_short_tracks(table: "pd.DataFrame", min_frames: int = MIN_TRACK_FRAMES,
                      min_seconds: float = MIN_TRACK_SECONDS) -> "pd.DataFrame":
    """Set `short_track` (in place, and return the table): True on every row of a (source, face_id) track
    with fewer than `min_frames` rows or a span (last time - first time) under `min_seconds`. Rows without a
    time (photos) are never short."""
    if not len(table):
        table["short_track"] = table.get("short_track", False)
        return table.astype({"short_track": "bool"})
    timed = table["time"].notna()
    groups = table[timed].groupby(["source", "face_id"])["time"]
    frames = groups.transform("size")
    span = groups.transform("max") - groups.transform("min")
    short = (frames < min_frames) | (span < min_seconds - 1e-9)
    table["short_track"] = False
    table.loc[short.index, "short_track"] = short.to_numpy(dtype=bool)
    table["short_track"] = table["short_track"].astype(bool)
    return table


def counted(table: "pd.DataFrame") -> "pd.DataFrame":
    """The rows of faces that count: the table without its short tracks (what summaries and charts use)."""
    if "short_track" not in table:
        table = mark_short_tracks(table.copy())
    return table[~table["short_track"].astype(bool)]


def face_ids(table: "pd.DataFrame") -> list[int]:
    """The ids of the faces that count (short tracks left out), in order."""
    rows = counted(table)
    return sorted(int(i) for i in rows["face_id"].unique()) if len(rows) else []


def short_track_ids(table: "pd.DataFrame") -> list[int]:
    """The ids of the tracks too short to count as faces."""
    if "short_track" not in table:
        table = mark_short_tracks(table.copy())
    rows = table[table["short_track"].astype(bool)]
    return sorted(int(i) for i in rows["face_id"].unique()) if len(rows) else []


def faces_table(faces: Sequence[FaceResult], source: str, frame: int = 0, time: float | None = None) -> "pd.DataFrame":
    """The results table of one frame (a photo)."""
    return results_table(face_rows(faces, source, frame, time))


PROVENANCE_ATTR = "provenance"
"""Where a results table keeps what made it (`fer_core.provenance.provenance`): `table.attrs[PROVENANCE_ATTR]`."""


def provenance_of(table: "pd.DataFrame") -> dict[str, Any] | None:
    """What made the table (None: a file from before results said so, or a table made by hand)."""
    return table.attrs.get(PROVENANCE_ATTR)


def with_provenance(table: "pd.DataFrame", data: dict[str, Any] | None) -> "pd.DataFrame":
    """`table`, carrying `data` as its provenance (in place; returned for chaining). None leaves it as it is."""
    if data is not None:
        table.attrs[PROVENANCE_ATTR] = data
    return table


def concat_tables(tables: Iterable["pd.DataFrame"]) -> "pd.DataFrame":
    """Several results tables (photos of a page, files of a folder) as one. It keeps their provenance when
    they all have the same one (several photos analysed with the same settings), else carries none."""
    import pandas as pd

    tables = list(tables)
    made_by = [provenance_of(t) for t in tables]
    common = made_by[0] if made_by and all(m == made_by[0] for m in made_by) else None
    tables = [with_all_columns(t) for t in tables if len(t)]
    table = mark_short_tracks(pd.concat(tables, ignore_index=True).astype(_DTYPES)) if tables else results_table()
    table.attrs.clear()  # pandas keeps attrs only sometimes: the rule above decides
    return with_provenance(table, common)


def with_all_columns(table: "pd.DataFrame") -> "pd.DataFrame":
    """A table from before a column was added (a batch folder's older partitions, an older export) with that
    column empty; `short_track`, if missing, computed."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if not missing:
        return table
    table = table.assign(**{c: None for c in missing if c != "short_track"})
    table = mark_short_tracks(table) if "short_track" in missing else table
    return table[list(COLUMNS)]


class TableBuilder:
    """Collects rows frame by frame (video, webcam, folder runs) and makes the table once at the end."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, faces: Sequence[FaceResult], source: str, frame: int = 0, time: float | None = None,
            clock: str | None = None) -> None:
        self.rows.extend(face_rows(faces, source, frame, time, clock))

    def extend(self, table: "pd.DataFrame") -> None:
        """Append the rows of an existing results table."""
        self.rows.extend(table[list(COLUMNS)].itertuples(index=False, name=None))

    def trim(self, keep: int) -> int:
        """Keep only the newest `keep` rows (a live stream's history stays bounded); how many went."""
        gone = max(0, len(self.rows) - keep)
        del self.rows[:gone]
        return gone

    def __len__(self) -> int:
        return len(self.rows)

    def table(self) -> "pd.DataFrame":
        return results_table(self.rows)


# --- the summary ---------------------------------------------------------------------------------------

SHARE_PREFIX = "share_"


def summarize(table: "pd.DataFrame", by: Sequence[str] = ("source", "face_id"),
              include_short: bool = False) -> "pd.DataFrame":
    """The one summary of a results table: one row per group of `by` (per face by default).

    Columns: the `by` columns, `first_seen` and `last_seen` (seconds; empty for photos), `frames` (rows in
    the group), `dominant` (the most frequent smoothed label) and `share_<emotion>` (the share of the
    group's rows with that smoothed label). `by=()` summarises the whole table in one row: the share of
    time per emotion over all faces. Tracks too short to count (`short_track`) are left out unless
    `include_short`. An empty table gives an empty summary with these columns.
    """
    import pandas as pd

    if not include_short:
        table = counted(table)
    by = list(by)
    shares = [SHARE_PREFIX + e for e in EMOTIONS]
    columns = [*by, "first_seen", "last_seen", "frames", "dominant", *shares]
    if not len(table):
        return pd.DataFrame(columns=columns)
    groups = table.groupby(by, sort=True) if by else [((), table)]
    out = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        counts = group["smoothed_label"].value_counts(normalize=True)
        # The most frequent label; a tie goes to the emotion first in model order, so results are stable.
        dominant = max(EMOTIONS, key=lambda e: (round(float(counts.get(e, 0.0)), 9), -EMOTIONS.index(e)))
        times = group["time"]
        out.append({
            **dict(zip(by, key)),
            "first_seen": round(float(times.min()), 3) if times.notna().any() else float("nan"),
            "last_seen": round(float(times.max()), 3) if times.notna().any() else float("nan"),
            "frames": int(len(group)),
            "dominant": dominant,
            **{SHARE_PREFIX + e: round(float(counts.get(e, 0.0)), 4) for e in EMOTIONS},
        })
    return pd.DataFrame(out, columns=columns)


def shares(summary_row: Any) -> dict[str, float]:
    """{emotion: share} from one row of `summarize` (a Series or a namedtuple)."""
    get = summary_row.get if hasattr(summary_row, "get") else lambda k, d=None: getattr(summary_row, k, d)
    return {e: float(get(SHARE_PREFIX + e, 0.0)) for e in EMOTIONS}


# --- exports -------------------------------------------------------------------------------------------

EXPORT_FORMATS = ("csv", "json", "parquet")


def row_dicts(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts keyed by `COLUMNS` (NaN becomes None), without making a DataFrame."""
    out = []
    for row in rows:
        record = {}
        for name, value in zip(COLUMNS, row):
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            record[name] = value
        out.append(record)
    return out


def records(frame: "pd.DataFrame") -> list[dict[str, Any]]:
    """A results table (or its summary) as JSON-ready dicts, NaN as None: the JSON export and --json."""
    return json.loads(frame.to_json(orient="records", double_precision=6))


PROVENANCE_LINE = "# fer: "
"""How a results CSV begins when it says what made it: this, then the provenance as one line of JSON."""
PARQUET_KEY = b"fer"
"""The Parquet key-value metadata key that holds the provenance (JSON)."""


def csv_text(table: "pd.DataFrame", header: bool = True) -> str:
    """The table as CSV text: the one CSV format, whether written at once or a few rows at a time."""
    return table.to_csv(index=False, header=header)


def provenance_line(provenance: dict[str, Any] | None) -> str:
    """A results CSV's first line, `# fer: {...}` (empty without provenance)."""
    return f"{PROVENANCE_LINE}{json.dumps(provenance, separators=(',', ':'))}\n" if provenance else ""


def export_bytes(table: "pd.DataFrame", fmt: str, provenance: dict[str, Any] | None = None) -> bytes:
    """The table as a CSV, JSON or Parquet file's bytes: what downloads, `--results` and the batch job write.

    Each says what made it (`provenance`, default: the table's own, `provenance_of`):
    - CSV: a first line `# fer: {json}` before the header (pandas skips it with `comment="#"`);
    - JSON: an object `{"provenance": {...}, "results": [rows]}` (without provenance: the list of rows);
    - Parquet: the key-value metadata `fer` (JSON), which pyarrow, DuckDB and Spark show.
    `read_table` reads all three back, and files from before provenance too.
    """
    made_by = provenance if provenance is not None else provenance_of(table)
    if fmt == "csv":
        return (provenance_line(made_by) + csv_text(table)).encode("utf-8")
    if fmt == "json":
        rows = records(table)
        return json.dumps({"provenance": made_by, "results": rows} if made_by else rows, indent=1).encode("utf-8")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.Table.from_pandas(table, preserve_index=False)
        if made_by:
            arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                                   PARQUET_KEY: json.dumps(made_by).encode("utf-8")})
        buffer = io.BytesIO()
        pq.write_table(arrow, buffer)
        return buffer.getvalue()
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


def _split_provenance_line(data: bytes) -> tuple[dict[str, Any] | None, bytes]:
    """A CSV's provenance (None without its line) and the rest of the file."""
    if not data.startswith(PROVENANCE_LINE.encode()):
        return None, data
    end = data.find(b"\n")
    if end < 0:  # only the first line, still being written
        return None, b""
    try:
        made_by = json.loads(data[len(PROVENANCE_LINE):end])
    except ValueError:
        made_by = None
    return made_by if isinstance(made_by, dict) else None, data[end + 1:]


def results_format(path: str | Path) -> str:
    """The export format a results file's name asks for; one sentence (FerError) for any other name, so a
    long run can be refused before it starts rather than after."""
    from .errors import FerError

    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise FerError(f"Results can be written as .csv, .json or .parquet, not {Path(path).name}.")
    return fmt


def read_table(data: bytes, name: str) -> "pd.DataFrame":
    """A results table back from a file's bytes: a `.csv`, `.json` or `.parquet` that `write_table`, the CLI's
    `--results` or a page's download wrote (also a CSV still growing, whose last line may be cut short, and
    the CLI's `--json` output for a photo, video or stream, whose rows are under "results"). What made it
    is in `table.attrs["provenance"]` (`fer_core.provenance.of_table`; None for files from before results
    said so). One sentence (FerError) for anything else. Tables from before `clock` or `short_track` get
    them (`with_all_columns`)."""
    import pandas as pd

    from .errors import FerError

    try:
        fmt = results_format(name)
    except FerError:  # the same check as for writing, in reading words
        raise FerError(f"{name} is not a results table: those are .csv, .json or .parquet files.") from None
    not_ours = (f"{name} is not a results table of this tool: it lacks the columns this tool writes "
                "(source, frame, time, face_id, the face box, the seven emotions and the labels).")
    made_by: dict[str, Any] | None = None
    try:
        if fmt == "csv":
            made_by, data = _split_provenance_line(data)
            table = pd.read_csv(io.BytesIO(data[: data.rfind(b"\n") + 1] or data))  # a line being written: left out
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            arrow = pq.read_table(io.BytesIO(data))
            stored = (arrow.schema.metadata or {}).get(PARQUET_KEY)
            made_by = json.loads(stored) if stored else None
            table = arrow.to_pandas()
        else:
            parsed = json.loads(data)
            if isinstance(parsed, dict) and parsed.get("type") == "folder":
                raise FerError(f"{name} is a folder run's summary; open its table, {parsed.get('results_file')}.")
            if isinstance(parsed, dict):
                made_by = parsed.get("provenance") if isinstance(parsed.get("provenance"), dict) else None
            rows = parsed.get("results") if isinstance(parsed, dict) else parsed
            table = pd.DataFrame(rows, columns=list(COLUMNS)) if rows == [] else pd.DataFrame(rows)
    except FerError:
        raise
    except Exception:  # noqa: BLE001 - pandas, pyarrow and json each raise their own kinds
        raise FerError(f"{name} could not be read: it is damaged, or not really a {_FORMAT_NAMES[fmt]} file.") from None
    needed = [c for c in COLUMNS if c not in ("short_track", "clock")]  # both added later: filled in
    if not set(needed) <= set(table.columns):
        raise FerError(not_ours)
    try:
        table = table.astype({c: t for c, t in _DTYPES.items() if c in table.columns})
    except (TypeError, ValueError):
        raise FerError(not_ours) from None
    table = with_all_columns(table)[list(COLUMNS)]
    table.attrs.clear()
    return with_provenance(table, made_by)


_FORMAT_NAMES = {"csv": "CSV", "json": "JSON", "parquet": "Parquet"}


def write_table(table: "pd.DataFrame", path: str | Path, provenance: dict[str, Any] | None = None) -> Path:
    """Write the table in the format its file name ends with (.csv, .json or .parquet), saying what made it
    (`provenance`, default: the table's own; see `export_bytes`)."""
    path = Path(path)
    fmt = results_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(export_bytes(table, fmt, provenance))
    return path
