"""Reading images safely: every way a file can be wrong ends in one clear `InvalidImageError`.

Pillow reads the header first (so a 20000x20000 image is refused before it costs gigabytes). The pixels of
plain 8-bit JPEGs and PNGs that are complete and need no rotation are then decoded by OpenCV, five times
faster; everything else is decoded by Pillow, which reports truncated files instead of padding them with
grey, applies EXIF orientation (phone photos), and understands 16-bit, palette, grey and alpha images.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputNotFoundError, InvalidImageError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".mpg", ".mpeg"})

MAX_PIXELS = 50_000_000
"""Largest image accepted (50 megapixels): enough for any camera photo, small enough to stay in memory."""


_LIMIT = f"more than the {MAX_PIXELS // 1_000_000} megapixel limit"


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_video_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _to_bgr(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() if array.size else 0
        scale = 255.0 / (65535.0 if peak > 255 else max(peak, 1.0) if peak > 0 else 1.0)
        gray = np.clip(array * scale, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        lo, hi = float(array.min()), float(array.max())
        gray = ((array - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _jpeg_is_complete(data: bytes) -> bool:
    return data.rstrip(b"\x00")[-2:] == b"\xff\xd9"


def _fast_decode(data: bytes, image: Image.Image) -> np.ndarray | None:
    """OpenCV decoding for the common, unambiguous case; None where Pillow must do it."""
    if image.mode not in ("RGB", "L") or "transparency" in image.info:
        return None
    if image.format == "JPEG":
        if not _jpeg_is_complete(data) or image.getexif().get(0x0112, 1) != 1:
            return None
    elif image.format != "PNG" or not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        return None
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None or decoded.shape[:2] != (image.size[1], image.size[0]):
        return None
    return decoded


def decode_image(data: bytes, name: str = "the image") -> np.ndarray:
    """Decode encoded image bytes to a BGR uint8 array (H, W, 3)."""
    if not data:
        raise InvalidImageError(f"{name} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidImageError(
                    f"{name} is {width}x{height} pixels, {_LIMIT}; downscale it first."
                )
            fast = _fast_decode(data, image)
            if fast is not None:
                return fast
            image.load()
            image = ImageOps.exif_transpose(image)
    except InvalidImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise InvalidImageError(f"{name} is not an image this tool can read.") from None
        raise InvalidImageError(f"{name} is {_LIMIT}; downscale it first.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"{name} could not be decoded: it is damaged or truncated ({exc}).") from None
    if image.size[0] < 1 or image.size[1] < 1:
        raise InvalidImageError(f"{name} has no pixels.")
    return _to_bgr(image)


def load_image(source: str | Path | bytes) -> np.ndarray:
    """Load a path or encoded bytes as a BGR uint8 array."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(bytes(source))
    path = Path(source)
    if not path.exists():
        raise InputNotFoundError(f"{path} does not exist.")
    if path.is_dir():
        raise InvalidImageError(f"{path} is a folder, not an image.")
    return decode_image(path.read_bytes(), name=path.name)
