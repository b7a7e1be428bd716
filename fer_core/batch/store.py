"""A batch job's output folder: the results as a Parquet dataset partitioned by input file, a per-file
summary, an errors table and the manifest that lets a rerun skip finished work.

    OUT/
      batch.json                      the settings the results were made with (a rerun must use the same),
                                      and under "provenance" what made them (`fer_core.provenance`)
      manifest.jsonl                  one JSON line per finished input (done, no_faces or failed), appended
      faces/file=<key>/part-0.parquet the results table's rows of one input (`fer_core.results.COLUMNS`)
      files.parquet                   one row per analysed input: `summarize(by=source)` + the file's facts
      errors.parquet                  one row per input that gave no faces or could not be analysed

`pd.read_parquet("OUT/faces")` and `dask.dataframe.read_parquet("OUT/faces")` read every row (the partition
adds a `file` column, the input's key); `pd.read_parquet("OUT/files.parquet")` the summary. Every Parquet
file also says what made it, in its key-value metadata `fer` (`fer_core.results.export_bytes`).

Nothing is ever half-written where a reader looks: every file is written beside its final name under a
name starting with "." (which pyarrow, pandas and Dask skip) and renamed into place, and an input is
recorded in the manifest only after its partition is in place. The manifest is the record of what is done:
`files.parquet` and `errors.parquet` are derived from it (rewritten every few seconds and at the end, and
rebuilt by the next run after a hard kill), and `open_results` reads the manifest itself.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..emotions import EMOTIONS
from ..errors import FerError
from ..provenance import stamp
from ..results import COLUMNS, SHARE_PREFIX, concat_tables, face_ids, results_table, summarize
from .inputs import InputFile

if TYPE_CHECKING:
    import pandas as pd

LAYOUT_VERSION = 1
META = "batch.json"
MANIFEST = "manifest.jsonl"
FACES = "faces"
FILES = "files.parquet"
ERRORS = "errors.parquet"
PARTITION_COLUMN = "file"
PART_NAME = "part-0.parquet"

FILE_COLUMNS: tuple[str, ...] = (
    "source", "file", "kind", "status", "width", "height", "duration", "fps", "frames_analysed", "faces",
    "first_seen", "last_seen", "frames", "dominant", *(SHARE_PREFIX + e for e in EMOTIONS), "chunks",
    "seconds", "finished_at",
)
"""The per-file summary (`files.parquet`), one row per input analysed (with or without faces).

- `source`: the input's name in the results table; `file`: its partition key (`faces/file=<key>/`).
- `kind`: photo or video; `status`: done (faces found) or no_faces (none, or only brief false detections,
  whose rows are still in the partition, marked `short_track`).
- `width`, `height`; `duration` (seconds) and `fps` for a video; `frames_analysed`: frames run through
  the model (1 for a photo); `faces`: faces in a photo, tracks in a video (brief false detections, marked
  `short_track` in the rows, left out, as `summarize` leaves them out).
- `first_seen` ... `share_<emotion>`: `fer_core.results.summarize(table, by=["source"])` for the file:
  `frames` is its number of rows (faces x frames), `dominant` and the shares are over those rows.
- `chunks`: tasks the video was cut into; `seconds`: worker time spent on it; `finished_at`: UTC, ISO 8601.
"""

ERROR_COLUMNS: tuple[str, ...] = ("source", "file", "kind", "error", "reason", "finished_at")
"""The errors table (`errors.parquet`): `error` is one of missing, empty, unsupported, corrupt, unreadable,
failed (retried by a rerun) or no_faces (the input was read and analysed but no face was found: not
retried); `reason` is one sentence."""

DONE_STATUSES = ("done", "no_faces")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def atomic_write(path: Path, data: bytes, durable: bool = False) -> None:
    """Write `data` to `path` so a reader sees the old file or the whole new one, never a part.

    The file is written under a hidden name and renamed into place (atomic on one filesystem), which holds
    whatever happens to the job. `durable` also flushes it to the disk first (os.fsync), so it survives a
    power cut too; that costs a few milliseconds a file, so partitions skip it and the job syncs the
    manifest when it ends instead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _clean(value: Any) -> Any:
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass
class ManifestEntry:
    """One line of the manifest: an input and how it ended."""

    source: str
    key: str
    path: str
    size: int
    mtime_ns: int
    kind: str
    status: str  # done, no_faces, failed
    finished_at: str
    summary: dict[str, Any] = field(default_factory=dict)  # the files table's row (done, no_faces)
    error: str | None = None  # the errors table's kind (no_faces, failed)
    reason: str | None = None

    @property
    def fingerprint(self) -> tuple[str, int, int]:
        return (self.path, self.size, self.mtime_ns)


class BatchStore:
    """Writes one output folder. One writer at a time (the client of a batch job); readers any time."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self._last_tables = 0.0
        self.provenance: dict[str, Any] | None = None
        """What made the results (from batch.json, set by `prepare`): every Parquet file written carries it."""

    # --- the run's settings ------------------------------------------------------------------------------
    def prepare(self, meta: dict[str, Any]) -> None:
        """Create the folder, or check that the results already in it were made the same way.

        `meta` holds what decides the results (settings, frame stride); a rerun with other settings into the
        same folder would mix two analyses in one table, so it is refused with one sentence.
        """
        if self.out.exists() and not self.out.is_dir():
            raise FerError(f"{self.out} is a file; give a folder for the results.")
        existing = read_meta(self.out)
        meta = json.loads(json.dumps(meta))  # compared as it is stored (tuples become lists)
        if existing is not None and existing.get("analysis") != meta.get("analysis"):
            raise FerError(f"{self.out} holds results made with other settings; use another --out folder "
                           "or the same settings as before.")
        try:
            (self.out / FACES).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise FerError(f"Cannot write results to {self.out} ({error.strerror}).") from None
        self._remove_leftovers()
        if existing is None:
            meta = {**meta, "provenance": batch_provenance(meta.get("analysis") or {})}
            atomic_write(self.out / META, json.dumps({"layout": LAYOUT_VERSION, "created": _now(), **meta},
                                                     indent=2).encode(), durable=True)
        self.provenance = (existing or meta).get("provenance")  # a folder from before provenance: None

    def _remove_leftovers(self) -> None:
        """Temporary files of a run that was killed mid-write (never read by anyone: their names start with .),
        and partitions the manifest does not record."""
        for tmp in self.out.rglob(".*.tmp-*"):
            tmp.unlink(missing_ok=True)
        self.remove_unrecorded()

    def remove_unrecorded(self) -> None:
        """Remove the partitions of inputs the manifest does not have as finished. A Ctrl-C (or a kill) between
        writing an input's partition and recording it leaves one; a reader of `faces/` must see only what the
        manifest says is done, and the next run analyses that input again anyway."""
        recorded = {entry.key for entry in self.entries().values() if entry.status in DONE_STATUSES}
        for folder in (self.out / FACES).glob(f"{PARTITION_COLUMN}=*"):
            if folder.name.partition("=")[2] not in recorded:
                shutil.rmtree(folder, ignore_errors=True)

    # --- the manifest ------------------------------------------------------------------------------------
    def entries(self) -> dict[str, ManifestEntry]:
        return read_manifest(self.out)

    def pending(self, files: Sequence[InputFile]) -> tuple[list[InputFile], list[InputFile]]:
        """(to analyse, already finished): an input is finished when the manifest has it done or without
        faces and it has not changed since (same path, size and modification time). Failures are retried."""
        entries = self.entries()
        todo, finished = [], []
        for file in files:
            entry = entries.get(file.source)
            same = entry is not None and entry.fingerprint == (str(file.path), file.size, file.mtime_ns)
            (finished if same and entry.status in DONE_STATUSES else todo).append(file)
        return todo, finished

    def _append(self, entry: ManifestEntry) -> None:
        line = json.dumps({k: _clean(v) if not isinstance(v, dict) else {a: _clean(b) for a, b in v.items()}
                           for k, v in entry.__dict__.items()})
        with open(self.out / MANIFEST, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()

    def _entry(self, file: InputFile, status: str, **fields: Any) -> ManifestEntry:
        return ManifestEntry(file.source, file.key, str(file.path), file.size, file.mtime_ns, file.kind, status,
                             _now(), **fields)

    # --- results -----------------------------------------------------------------------------------------
    def partition(self, key: str) -> Path:
        return self.out / FACES / f"{PARTITION_COLUMN}={key}"

    def record(self, file: InputFile, result: "EncodedResult") -> ManifestEntry:
        """Write one input's partition (bytes made on the worker), then record it as finished."""
        folder = self.partition(file.key)
        if result.parquet is not None:
            atomic_write(folder / PART_NAME, stamp_parquet(result.parquet, self.provenance))
        else:
            shutil.rmtree(folder, ignore_errors=True)  # a stale partition of an earlier version of the file
        if result.summary.get("status") == "done":
            entry = self._entry(file, "done", summary=result.summary)
        else:
            frames = result.summary.get("frames_analysed") or 0
            what = "in this photo" if file.kind == "photo" else f"in any of its {frames} analysed frames"
            entry = self._entry(file, "no_faces", summary=result.summary, error="no_faces",
                                reason=f"No face was found {what}.")
        self._append(entry)
        return entry

    def sync(self) -> None:
        """Flush the manifest to the disk (at the end of a job: a power cut then loses nothing recorded)."""
        manifest = self.out / MANIFEST
        if manifest.exists():
            with open(manifest, "rb") as handle:
                os.fsync(handle.fileno())

    def record_failure(self, file: InputFile, kind: str, reason: str) -> ManifestEntry:
        shutil.rmtree(self.partition(file.key), ignore_errors=True)
        entry = self._entry(file, "failed", error=kind, reason=reason)
        self._append(entry)
        return entry

    def write_tables(self, force: bool = True, every: float = 2.0) -> bool:
        """Rewrite files.parquet and errors.parquet from the manifest (at most every `every` s unless forced)."""
        now = time.monotonic()
        if not force and now - self._last_tables < every:
            return False
        from ..results import export_bytes

        entries = self.entries()
        made_by = self.provenance
        atomic_write(self.out / FILES, export_bytes(files_frame(entries.values()), "parquet", made_by), durable=force)
        atomic_write(self.out / ERRORS, export_bytes(errors_frame(entries.values()), "parquet", made_by),
                     durable=force)
        if force:
            self.sync()
        self._last_tables = now
        return True


def batch_provenance(analysis: dict[str, Any]) -> dict[str, Any]:
    """What made a batch's results (`fer_core.provenance`), from what batch.json stores as its "analysis"."""
    from ..provenance import provenance
    from ..settings import Settings

    settings = analysis.get("settings") or {}
    known = {k: v for k, v in settings.items() if k in Settings.__dataclass_fields__}
    return provenance(Settings(**known), every=analysis.get("every"))


def stamp_parquet(data: bytes, made_by: dict[str, Any] | None) -> bytes:
    """A partition's Parquet bytes (made on a worker) with the provenance in its key-value metadata, as
    `results.export_bytes` writes it: the client adds it, so workers need not know it (a few ms a file)."""
    if not made_by:
        return data
    import io

    import pyarrow.parquet as pq

    from ..results import PARQUET_KEY

    table = pq.read_table(io.BytesIO(data))
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), PARQUET_KEY: json.dumps(made_by).encode()})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@dataclass
class EncodedResult:
    """One input's results, ready to write: made on the worker, so the client only writes bytes.

    `parquet` is the partition file (None when there is no row), `summary` the files table's row.
    """

    source: str
    rows: int
    parquet: bytes | None
    summary: dict[str, Any]
    seconds: float = 0.0
    worker: str = ""
    loads: int = 0


def encode_result(source: str, key: str, kind: str, table: "pd.DataFrame", facts: dict[str, Any]) -> EncodedResult:
    """The partition's bytes (the results table's columns, in the results layout) and the summary row."""
    from ..results import export_bytes

    parquet = export_bytes(table[list(COLUMNS)], "parquet") if len(table) else None
    return EncodedResult(source, int(len(table)), parquet, file_summary(source, key, kind, table, facts),
                         float(facts.get("seconds") or 0.0))


def file_summary(source: str, key: str, kind: str, table: "pd.DataFrame", facts: dict[str, Any]) -> dict[str, Any]:
    """The files table's row for one input: `summarize(table, by=["source"])` and the file's facts."""
    summary = summarize(table, by=("source",))
    row: dict[str, Any] = {column: None for column in FILE_COLUMNS}
    if len(summary):
        row.update(summary.iloc[0].to_dict())
    else:
        row.update({"frames": 0, **{SHARE_PREFIX + e: 0.0 for e in EMOTIONS}})
    faces = len(face_ids(table))  # the faces that count: brief false detections (short_track) left out
    row.update({
        "source": source, "file": key, "kind": kind, "status": "done" if faces else "no_faces", "faces": faces,
        **{k: v for k, v in facts.items() if k in FILE_COLUMNS},
        "finished_at": _now(),
    })
    return {k: _clean(row[k]) for k in FILE_COLUMNS}


_FILE_DTYPES = {
    "width": "Int64", "height": "Int64", "duration": "float64", "fps": "float64", "frames_analysed": "Int64",
    "faces": "int64", "first_seen": "float64", "last_seen": "float64", "frames": "int64", "chunks": "Int64",
    "seconds": "float64", **{SHARE_PREFIX + e: "float64" for e in EMOTIONS},
}


def files_frame(entries: Iterable[ManifestEntry]) -> "pd.DataFrame":
    import pandas as pd

    rows = [e.summary for e in entries if e.status in DONE_STATUSES]
    frame = pd.DataFrame(rows, columns=list(FILE_COLUMNS))
    for column in ("source", "file", "kind", "status", "dominant", "finished_at"):
        frame[column] = frame[column].astype("object")
    return frame.astype(_FILE_DTYPES)


def errors_frame(entries: Iterable[ManifestEntry]) -> "pd.DataFrame":
    import pandas as pd

    rows = [{"source": e.source, "file": e.key, "kind": e.kind, "error": e.error, "reason": e.reason,
             "finished_at": e.finished_at} for e in entries if e.error]
    return pd.DataFrame(rows, columns=list(ERROR_COLUMNS)).astype("object")


# --- reading ----------------------------------------------------------------------------------------------

def read_meta(folder: str | Path) -> dict[str, Any] | None:
    path = Path(folder) / META
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise FerError(f"{path} is damaged; move the folder away or choose another --out folder.") from None


def read_manifest(folder: str | Path) -> dict[str, ManifestEntry]:
    """The latest line per input. A line cut short by a hard kill is ignored (that input is redone)."""
    path = Path(folder) / MANIFEST
    entries: dict[str, ManifestEntry] = {}
    if not path.exists():
        return entries
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                data = json.loads(line)
                entry = ManifestEntry(**data)
            except (ValueError, TypeError):
                continue
            entries.pop(entry.source, None)  # keep the manifest's order of last completion
            entries[entry.source] = entry
    return entries


@dataclass
class BatchResults:
    """A results folder, read back: what the Batch page and `python -m fer_core.batch --show` use.

    `files` (the per-file summary) and `errors` come from the manifest, so they include everything
    finished so far even while a job is still running or after it was interrupted.
    """

    folder: Path
    meta: dict[str, Any]
    files: "pd.DataFrame"
    errors: "pd.DataFrame"

    def faces(self, sources: Sequence[str] | None = None) -> "pd.DataFrame":
        """The results table of the given inputs (default: all finished ones), in the files table's order."""
        import pandas as pd

        keys = dict(zip(self.files["source"], self.files["file"]))
        wanted = list(keys) if sources is None else [s for s in sources if s in keys]
        tables = []
        for source in wanted:
            part = self.folder / FACES / f"{PARTITION_COLUMN}={keys[source]}" / PART_NAME
            if part.exists():
                tables.append(pd.read_parquet(part))
        table = concat_tables(tables) if tables else results_table()
        table.attrs.clear()
        return stamp(table, self.meta.get("provenance"))  # the folder's, also for partitions from before it

    def mix(self) -> dict[str, float]:
        """The archive's emotion mix: the share of all face-frames per (smoothed) emotion, i.e.
        `summarize(all rows, by=())`, computed from the files table without reading the rows."""
        weights = self.files["frames"].astype(float)
        total = float(weights.sum())
        if not total:
            return {e: 0.0 for e in EMOTIONS}
        return {e: round(float((self.files[SHARE_PREFIX + e].astype(float) * weights).sum()) / total, 4)
                for e in EMOTIONS}

    @property
    def failures(self) -> "pd.DataFrame":
        """The errors table without the inputs that were analysed but had no face."""
        return self.errors[self.errors["error"] != "no_faces"]


def is_results_folder(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / META).is_file()


def open_results(folder: str | Path) -> BatchResults:
    """Read a batch job's output folder (one sentence as a `FerError` when it is not one)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FerError(f"{folder} is not a folder.")
    meta = read_meta(folder)
    if meta is None:
        raise FerError(f"{folder} is not a batch results folder (it has no {META}).")
    entries = read_manifest(folder).values()
    return BatchResults(folder, meta, files_frame(entries), errors_frame(entries))
