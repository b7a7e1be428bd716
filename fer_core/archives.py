"""Unpacking an uploaded zip safely: one function for every page that accepts a zip (the Training page's
labelled faces, the Batch page's photos and videos).

Why one: an upload is untrusted. Its member names may climb out of the folder (`../../etc/x`), its headers
may understate what it inflates to (a few kilobytes that become gigabytes), it may hold millions of entries.
Each of these is refused here with one sentence that names the upload, and a refused zip leaves nothing
behind.
"""

from __future__ import annotations

import copy
import io
import shutil
import zipfile
import zlib
from pathlib import Path

from .errors import FerError

MAX_ZIP_FILES = 50_000
MAX_ZIP_BYTES = 500 * 1024 * 1024


def extract_zip(data: bytes, dest: str | Path, name: str = "The upload", max_bytes: int = MAX_ZIP_BYTES,
                max_files: int = MAX_ZIP_FILES, error: type[FerError] = FerError) -> Path:
    """Unpack an uploaded zip safely into `dest`; returns `dest`. Messages name the upload (`name`) and are
    raised as `error` (a `FerError` subclass the caller's users expect, such as `DatasetError`).

    No path outside `dest`; at most `max_files` files and `max_bytes` unpacked. The sizes in the zip's
    headers are only a first check: each member is inflated in 1 MB pieces and the bytes actually produced
    are counted, so a zip whose headers understate its contents (a few MB that inflate to gigabytes) is
    stopped at the limit, having written at most `max_bytes` and held 1 MB in memory. A member whose
    contents do not match its header is refused as damaged. On any error the files written are removed.
    """
    dest = Path(dest)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise error(f"{name} is not a valid zip file.") from None
    members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
    if not members:
        raise error(f"{name} is empty: it holds no files.")
    too_much = (f"{name} holds too much data (at most {max_files} files and {max_bytes // 2**20} MB "
                "unpacked).")
    if len(members) > max_files or sum(m.file_size for m in members) > max_bytes:
        raise error(too_much)
    root = dest.resolve()
    for member in members:
        target = (dest / member.filename).resolve()
        if root not in target.parents:
            raise error(f"{name} contains an unsafe path: {member.filename}.")
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        for member in members:
            target = (dest / member.filename).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            # Read past the limit, not up to the header's size: the real bytes decide (zipfile alone stops at
            # the header's size, and `archive.read` inflates a whole member in one call before it checks).
            unbounded = copy.copy(member)
            unbounded.file_size = max_bytes - written + 2 * 2**20
            size = 0
            with archive.open(unbounded) as source, open(target, "wb") as out:
                while chunk := source.read(2**20):
                    size += len(chunk)
                    written += len(chunk)
                    if written > max_bytes:
                        raise error(too_much)
                    out.write(chunk)
            if size != member.file_size:
                raise error(f"{name} is damaged: {member.filename} does not match the size its zip header gives.")
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
        _remove_unpacked(dest, created, members)
        raise error(f"{name} is damaged or uses a zip feature this tool cannot read (encryption, an unusual "
                    "compression).") from None
    except BaseException:
        _remove_unpacked(dest, created, members)
        raise
    return dest


def _remove_unpacked(dest: Path, created: bool, members: list[zipfile.ZipInfo]) -> None:
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for member in members:
        (dest / member.filename).unlink(missing_ok=True)
