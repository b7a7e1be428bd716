"""Uploads, temporary files and downloads.

Uploads stay in memory (Streamlit hands them over as bytes); a video is written to a temporary file only
for as long as the decoder needs a path, and that file is removed whatever happens (error, stop button,
the user leaving the page).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import cv2
import numpy as np
import streamlit as st

from fer_core.emotions import EMOTIONS

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


def crop_to_uint8(crop: np.ndarray, size: int | None = None) -> np.ndarray:
    """A model input (S, S, 1) in [-1, 1] as a displayable uint8 grayscale image, optionally upscaled."""
    g = np.asarray(crop, dtype=np.float32)
    if g.ndim == 3:
        g = g[..., 0]
    img = np.clip((g + 1.0) * 127.5, 0, 255).astype(np.uint8)
    if size and size != img.shape[0]:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    return img


def faces_table(faces: Sequence[Any], source: str | None = None) -> pd.DataFrame:
    """One row per face: where it is, the label, the confidence and every probability."""
    rows = []
    for i, face in enumerate(faces, start=1):
        box = face.box
        row: dict[str, Any] = {}
        if source is not None:
            row["image"] = source
        row.update({
            "face": i, "label": face.label, "confidence": round(float(face.confidence), 4),
            "x": int(box.x), "y": int(box.y), "w": int(box.w), "h": int(box.h),
            "detector_score": round(float(getattr(box, "score", 1.0) or 0.0), 4),
        })
        row.update({e: round(float(face.probabilities[e]), 4) for e in EMOTIONS})
        rows.append(row)
    columns = (["image"] if source is not None else []) + ["face", "label", "confidence", "x", "y", "w", "h",
                                                           "detector_score", *EMOTIONS]
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, indent=2, default=_json_default).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def safe_stem(name: str) -> str:
    stem = Path(name).stem or "upload"
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem)[:60]
