"""The results table as a CSV file that grows while a video, a stream or a folder is being analysed.

Why: a camera watched for days or an archive analysed for hours must not lose its rows to a crash, a kill
or a power cut, and `tail -f` on the file should show faces as they come. A table written once at the end
(`results.write_table`) gives neither.

The one difficulty is `short_track`: it says whether a row's track was followed long enough to count as a
face (`results.MIN_TRACK_FRAMES`, `MIN_TRACK_SECONDS`), which is only certain once the track has either
reached both thresholds (it can only grow) or ended. So rows wait until their track's verdict is final,
and are written in table order, in batches at least `flush_seconds` apart, each batch flushed to disk.
A row therefore reaches the file about a second after its track is settled; a face that stays in the
picture is settled after `MIN_TRACK_SECONDS`. The file, once closed, is byte for byte the file that
`write_table(table, path, provenance)` would have written at the end, its first line saying what made it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .errors import FerError
from .results import (
    COLUMNS,
    MIN_TRACK_FRAMES,
    MIN_TRACK_SECONDS,
    Row,
    csv_text,
    provenance_line,
    results_table,
)

_SOURCE, _FACE_ID, _TIME = COLUMNS.index("source"), COLUMNS.index("face_id"), COLUMNS.index("time")
_SHORT = COLUMNS.index("short_track")


@dataclass
class _Track:
    """What is known of one (source, face_id) track while its rows wait for a verdict."""

    earliest: float
    latest: float  # min and max, not first and last: a stream's clock can step back (a camera reset)
    rows: int = 1
    short: bool | None = None  # None: not settled yet
    ended: bool = False
    waiting: int = 1  # its rows not yet written

    def settle(self) -> None:
        """Not short as soon as it has reached both thresholds; short if it ended before that."""
        if self.short is None:
            if self.rows >= MIN_TRACK_FRAMES and self.latest - self.earliest >= MIN_TRACK_SECONDS - 1e-9:
                self.short = False
            elif self.ended:
                self.short = True


def _is_photo(row: Row) -> bool:
    t = row[_TIME]
    return isinstance(t, float) and math.isnan(t)


class LiveResultsCsv:
    """Append rows (from `results.face_rows`) as frames are analysed; `close()` writes what is left.

    `add(rows, source, live_ids)` also says which tracks of `source` the tracker still follows: every
    other track is over, so each source (file or stream) must be added in one stretch and named once, as
    the CLI does. Rows without a time (photos) are never short and go out with the next batch. The file is
    created at the first `add` (or at `close`): a run that fails before its first frame leaves an existing
    file as it was. Use it as a context manager, so that an error or a Ctrl-C still closes the file with
    every row in it. `provenance` (`fer_core.provenance.provenance(recognizer)`) is the file's first line.
    """

    def __init__(self, path: str | Path, flush_seconds: float = 1.0, provenance: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.flush_seconds = flush_seconds
        self.provenance = provenance
        self.rows_written = 0
        self._file: TextIO | None = None
        self._closed = False
        self._waiting: list[Row] = []
        self._tracks: dict[tuple[str, int], _Track] = {}
        self._last_write = time.monotonic()

    def add(self, rows: Iterable[Row], source: str, live_ids: Collection[int] = ()) -> None:
        """The rows of one analysed frame (maybe none) of `source`, whose tracker still follows `live_ids`."""
        if self._closed:
            raise ValueError(f"{self.path} is closed")
        if self._file is None:
            self._open()
        for row in rows:
            self._waiting.append(row)
            if _is_photo(row):
                continue
            t = float(row[_TIME])
            key = (row[_SOURCE], int(row[_FACE_ID]))
            track = self._tracks.get(key)
            if track is None:
                self._tracks[key] = _Track(t, t)
            else:
                track.earliest, track.latest = min(track.earliest, t), max(track.latest, t)
                track.rows, track.waiting = track.rows + 1, track.waiting + 1
        live = set(live_ids)
        for (track_source, face_id), track in self._tracks.items():
            if not track.ended and (track_source != source or face_id not in live):
                track.ended = True
            track.settle()
        if time.monotonic() - self._last_write >= self.flush_seconds:
            self._write_settled()

    def close(self, keep_old_file: bool = False) -> None:
        """End every track, write every row left and close the file (safe to call twice). A file never
        written to is created with its header (an empty table), unless `keep_old_file`."""
        if self._closed:
            return
        self._closed = True
        if self._file is None:
            if keep_old_file:
                return
            self._open()
        try:
            for track in self._tracks.values():
                track.ended = True
                track.settle()
            self._write_settled()
        finally:
            assert self._file is not None
            self._file.close()

    def __enter__(self) -> LiveResultsCsv:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *exc: object) -> None:
        self.close(keep_old_file=error_type is not None)  # a run that failed before its first frame

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
        except OSError as error:
            raise FerError(f"Could not write the results to {self.path} ({error.strerror or error}).") from None
        # What made it, and the header: even a run with no face leaves a valid table.
        self._write(provenance_line(self.provenance) + csv_text(results_table()))

    def _verdict(self, row: Row) -> bool | None:
        return False if _is_photo(row) else self._tracks[(row[_SOURCE], int(row[_FACE_ID]))].short

    def _write_settled(self) -> None:
        """Write the longest run of waiting rows, from the first, whose verdicts are all known."""
        ready: list[Row] = []
        for row in self._waiting:
            short = self._verdict(row)
            if short is None:
                break
            ready.append(row[:_SHORT] + (short,) + row[_SHORT + 1:])
        self._last_write = time.monotonic()
        if not ready:
            return
        self._write(csv_text(results_table(ready, mark_short=False), header=False))
        del self._waiting[: len(ready)]  # only once written: a failed write loses nothing it could keep
        self.rows_written += len(ready)
        for row in ready:
            key = (row[_SOURCE], int(row[_FACE_ID]))
            track = self._tracks.get(key)
            if track is not None:
                track.waiting -= 1
                if track.ended and track.waiting == 0:
                    del self._tracks[key]  # a camera watched for days keeps only the tracks still open

    def _write(self, text: str) -> None:
        """Append and push to the disk: flushed, so a killed process keeps it; synced, so a power cut does."""
        assert self._file is not None
        try:
            self._file.write(text)
            self._file.flush()
        except OSError as error:
            raise FerError(f"Could not write the results to {self.path} ({error.strerror or error}).") from None
        try:
            os.fsync(self._file.fileno())
        except OSError:  # a pipe, or a file system without fsync: flushed is all it can be
            pass
