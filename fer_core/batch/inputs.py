"""What a batch job reads: the files behind the INPUT arguments (files, folders, glob patterns).

Each input file gets a `source` (the name it has in every output table: its path relative to the folder or
pattern it came from, or its file name when given directly) and a `key` (a short, filesystem-safe, stable
name for its Parquet partition). Identity for reruns is the resolved path plus size and modification time:
a file that changed since it was analysed is analysed again.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import FerError, InputNotFoundError, UnsupportedInputError
from ..io import is_image_path, is_video_path, stream_name, url_scheme

KEY_LENGTH = 60


@dataclass(frozen=True)
class InputFile:
    """One photo or video of a batch."""

    path: Path  # absolute
    source: str  # the name in the results table
    kind: str  # "photo" or "video"
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        return partition_key(self.source)

    @property
    def fingerprint(self) -> tuple[str, int, int]:
        """What a rerun compares to decide whether the file is the one already analysed."""
        return (str(self.path), self.size, self.mtime_ns)


def partition_key(source: str) -> str:
    """A filesystem- and Hive-safe partition name for a source: readable, unique, the same on every run.

    "interviews/day 1/A.mp4" -> "interviews_day_1_A.mp4-1c7e9d2a": letters, digits, `._-` only, so the
    partition directory `file=<key>` needs no escaping; the hash of the full source keeps two sources that
    clean up to the same text apart.
    """
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:8]
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("._-")[:KEY_LENGTH] or "file"
    return f"{clean}-{digest}"


def _kind(path: Path) -> str | None:
    if is_image_path(path):
        return "photo"
    if is_video_path(path):
        return "video"
    return None


def _entry(path: Path, source: str) -> InputFile | None:
    kind = _kind(path)
    if kind is None:
        return None
    stat = path.stat()
    return InputFile(path.resolve(), source, kind, stat.st_size, stat.st_mtime_ns)


def _is_pattern(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def collect_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[InputFile]:
    """Every photo and video named by `inputs`, in a stable order, each once.

    A file is taken as given (its `source` is its name); a folder contributes every photo and video under
    it (`source`: the path inside the folder, prefixed by the folder's name when several inputs are given);
    a glob pattern (quoted, so the shell leaves it alone; `**` reaches into sub-folders) contributes the
    photos and videos it matches. Files of other types inside folders and patterns are passed over; a file
    of another type given by name, a missing path or a pattern that matches nothing is an error.
    """
    items = [str(item) for item in inputs]
    if not items:
        raise FerError("Give at least one input: a photo, a video, a folder or a glob pattern.")
    several = len(items) > 1
    found: dict[Path, InputFile] = {}
    used_sources: set[str] = set()

    def add(entry: InputFile | None) -> None:
        if entry is None or entry.path in found:
            return
        source = entry.source
        if source in used_sources:  # the same name from two inputs: keep them apart by their full path
            source = entry.path.as_posix()
        used_sources.add(source)
        found[entry.path] = InputFile(entry.path, source, entry.kind, entry.size, entry.mtime_ns)

    for item in items:
        if url_scheme(item):  # before the pattern test: a URL's "?" is not a wildcard
            raise UnsupportedInputError(f"Batch jobs read files, folders and patterns, not addresses such as "
                                        f"{stream_name(item)}: give a stream to the command without batch.")
        if _is_pattern(item):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True))
            files = [p for p in matches if p.is_file() and _kind(p)]
            if not files:
                raise InputNotFoundError(f"No photo or video matches {item}.")
            base = Path(_pattern_root(item))
            for path in files:
                add(_entry(path, _relative(path, base)))
            continue
        path = Path(item)
        if not path.exists():
            raise InputNotFoundError(f"{item} does not exist.")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p))
            if not files:
                raise FerError(f"{item} has no photos or videos in it.")
            prefix = path.resolve().name + "/" if several else ""
            for child in files:
                add(_entry(child, prefix + child.relative_to(path).as_posix()))
            continue
        entry = _entry(path, path.name)
        if entry is None:
            raise FerError(f"{path.name} is neither a photo nor a video this tool reads (by its extension).")
        add(entry)
    return list(found.values())


def _pattern_root(pattern: str) -> str:
    """The folder part of a glob pattern before its first wildcard ("clips/**/*.mp4" -> "clips")."""
    parts = Path(pattern).parts
    root: list[str] = []
    for part in parts:
        if _is_pattern(part):
            break
        root.append(part)
    return str(Path(*root)) if root else "."


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.name
