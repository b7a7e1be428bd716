"""Uploads, temporary files and downloads.

Uploads stay in memory (Streamlit hands them over as bytes); a video is written to a temporary file only
for as long as the decoder needs a path, and that file is removed whatever happens (error, stop button,
the user leaving the page).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import cv2
import numpy as np
import streamlit as st

if TYPE_CHECKING:
    import pandas as pd

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp"]
VIDEO_TYPES = ["mp4", "mov", "avi", "webm"]
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = REPO_ROOT / "samples"


def upload_limit_mb() -> int:
    """The upload size limit set in `.streamlit/config.toml` (server.maxUploadSize)."""
    try:
        return int(st.get_option("server.maxUploadSize"))
    except Exception:  # noqa: BLE001 - outside a Streamlit runtime
        return 200


def sample_photos() -> dict[str, Path]:
    """Bundled photos, by a friendly name ("happy astronaut" for happy_astronaut.png)."""
    folder = SAMPLES / "photos"
    return {p.stem.replace("_", " "): p for p in sorted(folder.glob("*")) if p.suffix.lower()[1:] in IMAGE_TYPES}


def sample_videos() -> dict[str, Path]:
    folder = SAMPLES / "videos"
    return {p.stem.replace("_", " "): p for p in sorted(folder.glob("*")) if p.suffix.lower()[1:] in VIDEO_TYPES}


@contextlib.contextmanager
def temporary_file(data: bytes, name: str) -> Iterator[Path]:
    """Write `data` to a private temporary folder under (a safe form of) `name`, so that messages about
    the file use the name the user knows; the folder is removed on exit, even on error or interruption."""
    folder = Path(tempfile.mkdtemp(prefix="fer-upload-"))
    suffix = Path(name).suffix.lower()
    path = folder / (safe_stem(name) + suffix)
    try:
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def temporary_path(suffix: str) -> Iterator[Path]:
    """A path for an output file that is removed on exit."""
    fd, name = tempfile.mkstemp(prefix="fer-output-", suffix=suffix)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def png_bytes(bgr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError("could not encode the image as PNG")
    return buf.tobytes()


def bgr_to_rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def model_view(crop: np.ndarray, size: int | None = None) -> np.ndarray:
    """A model input (S, S, 1) as the grey picture the model saw, optionally enlarged (nearest pixels)."""
    from fer_core.preprocess import unscale_pixels

    img = unscale_pixels(crop)
    if size and size != img.shape[0]:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    return img


def download_buttons(table: "pd.DataFrame", stem: str, key: str, columns: Sequence[Any]) -> None:
    """The results table as CSV, JSON and Parquet downloads, one button per given column, and under them
    what made the results (`made_by`), which each file also says."""
    from fer_core.results import export_bytes

    kinds = [("csv", "Results (CSV)", "text/csv", ":material/table:"),
             ("json", "Results (JSON)", "application/json", ":material/data_object:"),
             ("parquet", "Results (Parquet)", "application/vnd.apache.parquet", ":material/database:")]
    for column, (fmt, label, mime, icon) in zip(columns, kinds):
        column.download_button(label, export_bytes(table, fmt), f"{stem}_results.{fmt}", mime, key=f"{key}_dl_{fmt}",
                               on_click="ignore", width="stretch", icon=icon)
    made_by(table, " The downloads say it too.")


def made_by(table: "pd.DataFrame", more: str = "") -> None:
    """A caption under a result: the model (its role), calibration, detector, settings and version that made it,
    from the table's provenance (`fer_core.provenance`), not from the sidebar, which may have changed since."""
    from fer_core.provenance import describe, of_table

    st.caption(describe(of_table(table)) + more, help="Each results file says it too: a CSV in its first line "
               "(# fer: ...), a JSON file under \"provenance\", a Parquet file in its metadata (see docs/results.md).")


def safe_stem(name: str) -> str:
    stem = Path(name).stem or "upload"
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem)[:60]
