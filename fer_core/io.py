"""Reading images safely: every way a file can be wrong ends in one clear `InvalidImageError`.

Pillow reads the header first (so a 20000x20000 PNG is refused before it costs gigabytes; a JPEG that big is
read by `decode_photo` at a size its format can decode reduced, within the same bound on pixels). The pixels of
plain 8-bit JPEGs and PNGs that are complete and need no rotation are then decoded by OpenCV, five times
faster; everything else is decoded by Pillow, which reports truncated files instead of padding them with
grey, applies EXIF orientation (phone photos), and understands 16-bit, palette, grey and alpha images.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

from .errors import InputNotFoundError, InvalidImageError, UnsupportedInputError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".mpg", ".mpeg"})
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "rtp")
"""URL schemes read as a network video stream (an IP camera's rtsp://, an MPEG-TS or HLS http:// URL, udp://):
the protocols the FFmpeg inside PyAV's wheels has."""
SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pass", "pwd", "token", "access_token", "key", "secret", "auth"})
"""Query parameters that `stream_name` masks, as in the camera URLs `...?user=admin&pwd=...`."""

MAX_PIXELS = 50_000_000
"""Largest image accepted (50 megapixels): enough for any camera photo, small enough to stay in memory."""


_LIMIT = f"more than the {MAX_PIXELS // 1_000_000} megapixel limit"

PHOTO_MAX_SIDE = 2048
"""The dashboard analyses and shows a photo at most this many pixels on its long side (`decode_photo`): the
detector works on a 320- or 640-pixel copy and the model on 48-pixel crops (64 for the 2017 Mini-XCEPTION), so a 40-megapixel phone photo
gives the same faces at 2048 pixels, at a twentieth of the memory."""


@dataclass(frozen=True)
class Photo:
    """A decoded photo, possibly downscaled once at decode: `image` is what is analysed and shown, `width`
    and `height` the file's own size (after EXIF rotation). `scale` maps `image` pixels back to the file's:
    a box found at x in `image` is at x * scale in the photo."""

    image: np.ndarray  # BGR uint8
    width: int
    height: int

    @property
    def scale(self) -> float:
        return self.width / self.image.shape[1]

    @property
    def downscaled(self) -> bool:
        return self.image.shape[1] != self.width


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_video_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def url_scheme(source: str | Path) -> str | None:
    """The scheme of a URL (`rtsp` for `rtsp://...`), lower-case; None for a path. A Path is never a URL:
    `Path("rtsp://host")` has already folded the URL's double slash."""
    if not isinstance(source, str):
        return None
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://.", source)
    return match.group(1).lower() if match else None


def stream_name(url: str) -> str:
    """The URL as tables, messages and progress bars show it, with its secrets as ***: the password of
    `rtsp://user:password@host/...` and the values of query parameters such as `pwd=` (SECRET_QUERY_KEYS),
    so that neither is written into results files or logs."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is not None:
            parts = parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        if any(key.lower() in SECRET_QUERY_KEYS for key, _ in query):
            masked = [(key, "***" if key.lower() in SECRET_QUERY_KEYS else value) for key, value in query]
            parts = parts._replace(query=urlencode(masked, safe="*"))
        return urlunsplit(parts)
    except ValueError:  # not a well-formed URL (e.g. an unclosed [IPv6]): show its scheme only
        return f"{url_scheme(url)}://(not a well-formed URL)"


def check_stream_url(url: str) -> None:
    """Raise UnsupportedInputError, in one sentence, for a URL that this tool cannot read as a video stream."""
    from urllib.parse import urlsplit

    scheme, name = url_scheme(url), stream_name(url)
    if scheme not in STREAM_SCHEMES:
        raise UnsupportedInputError(f"{name} is not a stream this tool reads: use {', '.join(STREAM_SCHEMES[:-1])} "
                                    f"or {STREAM_SCHEMES[-1]} (://) addresses, or give a file.")
    try:
        path = urlsplit(url).path
    except ValueError:
        raise UnsupportedInputError(f"The {scheme}:// address given is not a well-formed URL; check it.") from None
    if is_image_path(path):
        raise UnsupportedInputError(f"{name} is the address of a photo, and addresses are read as video streams: "
                                    "save the photo and give its file.")


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
    try:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # OpenCV's own limits: Pillow decodes it, or says why not
        return None
    if decoded is None or decoded.shape[:2] != (image.size[1], image.size[0]):
        return None
    return decoded


def _open(data: bytes, name: str) -> Image.Image:
    """Pillow's view of the file, pixels not read yet; InvalidImageError (one sentence) where it is none.

    Pillow's own decompression-bomb check counts the file's pixels; a JPEG is let past it, since its pixels can
    be decoded at 1/2 to 1/8 size (`decode_photo`), and a PNG, so that its refusal can give its size: every
    caller bounds the pixels it actually decodes before decoding any.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                return Image.open(io.BytesIO(data))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                if data.startswith(b"\xff\xd8\xff"):
                    return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
                if data.startswith(b"\x89PNG\r\n\x1a\n"):
                    return PngImagePlugin.PngImageFile(io.BytesIO(data))
                raise
    except UnidentifiedImageError:
        raise InvalidImageError(f"{name} is not an image this tool can read.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImageError(f"{name} is {_LIMIT}; downscale it first.") from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidImageError(f"{name} could not be decoded: it is damaged or truncated.") from None


def _too_big(name: str, width: int, height: int) -> InvalidImageError:
    return InvalidImageError(f"{name} is {width}x{height} pixels, {_LIMIT}; downscale it first.")


def decode_image(data: bytes, name: str = "the image") -> np.ndarray:
    """Decode encoded image bytes to a BGR uint8 array (H, W, 3), at full size (at most `MAX_PIXELS`)."""
    if not data:
        raise InvalidImageError(f"{name} is empty (0 bytes).")
    image = _open(data, name)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_big(name, width, height)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            fast = _fast_decode(data, image)
            if fast is not None:
                return fast
            image.load()
            image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidImageError(f"{name} could not be decoded: it is damaged or truncated.") from None
    if image.size[0] < 1 or image.size[1] < 1:
        raise InvalidImageError(f"{name} has no pixels.")
    return _to_bgr(image)


def _reduced_request(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """The size to ask Pillow's `draft` for: at most `max_side` on the long side, and few enough pixels.

    A JPEG decodes at 1/1, 1/2, 1/4 or 1/8 size, the largest reduction whose size is not under the request;
    the memory bound asks for the smallest of these reductions that fits `MAX_PIXELS`.
    """
    reduction = next((r for r in (1, 2, 4, 8) if -(-width // r) * -(-height // r) <= MAX_PIXELS), 8)
    request = (max(1, width // reduction), max(1, height // reduction))
    if max_side and max(width, height) > max_side:
        ratio = max_side / max(width, height)
        if int(width * ratio) < request[0]:
            request = (max(1, int(width * ratio)), max(1, int(height * ratio)))
    return request


def decode_photo(data: bytes, name: str = "the image", max_side: int | None = PHOTO_MAX_SIDE) -> Photo:
    """Decode a photo, downscaled on the way to at most `max_side` pixels on its long side.

    A photo that fits is decoded as `decode_image` does. A larger one is decoded by Pillow straight at a
    reduced size where the format allows it (a JPEG's DCT scaling: 1/2, 1/4 or 1/8, never below the
    target), then resized once, so a 40-megapixel photo never exists at full size in memory. So a JPEG of
    more than `MAX_PIXELS` is read too, where its reduced decode fits the bound (a 100-megapixel photo
    decodes at a quarter of its pixels); the bound holds on the pixels decoded, and other formats beyond it,
    which decode only at full size, are refused as `decode_image` refuses them. The same messages.
    """
    if not data:
        raise InvalidImageError(f"{name} is empty (0 bytes).")
    header = _open(data, name)
    width, height = header.size
    if width * height <= MAX_PIXELS and (not max_side or max(width, height) <= max_side):
        image = decode_image(data, name=name)
        return Photo(image, image.shape[1], image.shape[0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            header.draft("RGB", _reduced_request(width, height, max_side))
            if header.size[0] * header.size[1] > MAX_PIXELS:  # no reduced decode (not a JPEG), or not enough
                raise _too_big(name, width, height)
            header.load()
            image = header
            if image.mode in ("1", "P", "PA"):  # resized as colours, not palette indices
                image = image.convert("RGBA")
            if max_side:
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)  # in place
            # EXIF rotation after the resize (the box is square): only the small image is turned.
            turned = ImageOps.exif_transpose(image) if image.getexif().get(0x0112, 1) != 1 else image
            quarter = turned.size[0] != image.size[0]  # the file's own size, after rotation
            full_w, full_h = (height, width) if quarter else (width, height)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidImageError(f"{name} could not be decoded: it is damaged or truncated.") from None
    return Photo(_to_bgr(turned), full_w, full_h)


def _read(source: str | Path | bytes) -> tuple[bytes, str]:
    """The bytes of a path or of encoded bytes, and the name messages give them."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "the image"
    path = Path(source)
    if not path.exists():
        raise InputNotFoundError(f"{path} does not exist.")
    if path.is_dir():
        raise InvalidImageError(f"{path} is a folder, not an image.")
    return path.read_bytes(), path.name


def load_image(source: str | Path | bytes) -> np.ndarray:
    """Load a path or encoded bytes as a BGR uint8 array, at full size (at most `MAX_PIXELS`)."""
    return decode_image(*_read(source))


def load_photo(source: str | Path | bytes, max_side: int | None = None) -> Photo:
    """Load a path or encoded bytes as a `Photo`: at full size where it fits `MAX_PIXELS` (and `max_side`), a
    JPEG beyond the bound decoded reduced (`decode_photo`). Boxes found on `image` map back to the file's
    pixels with `Photo.scale` (`fer_core.results.scale_faces`): what the command line and the batch job read."""
    data, name = _read(source)
    return decode_photo(data, name=name, max_side=max_side)
