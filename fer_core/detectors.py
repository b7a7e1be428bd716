"""Face detectors behind one small interface, built by name from a registry.

Callers ask `create_detector("yunet")` (the default, `DEFAULT_DETECTOR`) or `create_detector("haar")` and get
an object with `detect(frame, width=None) -> list[Box]`; adding a detector means registering one factory, not
editing callers. `width` runs the detector on a copy of the frame that many pixels wide, because detection
dominates the cost of a frame and faces big enough to classify survive the downscale; the boxes (and YuNet's
landmarks) come back in the frame's pixels. This is the only place frames are downscaled for detection.
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from typing import Any, Callable, Protocol

import cv2
import numpy as np

from .errors import FerError
from .models import MODELS_DIR
from .results import Box

DEFAULT_DETECTOR = "yunet"
"""YuNet: faster than the Haar cascade and it finds turned, small and partly hidden faces the cascade misses."""

YUNET_PATH = MODELS_DIR / "detectors" / "face_detection_yunet_2026may.onnx"


class FaceDetector(Protocol):
    """Anything with a name and `detect(frame_bgr, width=None) -> list[Box]` (boxes sorted left to right).

    `width` (pixels) asks for detection on a downscaled copy; boxes are always in the frame's pixels.
    """

    name: str

    def detect(self, frame: np.ndarray, width: int | None = None) -> list[Box]: ...


def _downscale(frame: np.ndarray, width: int | None) -> tuple[np.ndarray, float]:
    """Frame for detection and the factor that maps its boxes back to the original."""
    frame_width = frame.shape[1]
    if not width or frame_width <= width:
        return frame, 1.0
    scale = width / frame_width
    small = cv2.resize(frame, (width, max(1, round(frame.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    return small, scale


def _to_gray(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def _to_bgr(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame


RawFace = tuple[float, float, float, float, float, "tuple[tuple[float, float], ...] | None"]


def _boxes_back(raw: list[RawFace], scale: float, shape: tuple[int, ...]) -> list[Box]:
    """Detections on the downscaled copy as boxes (and landmarks) in the frame's pixels, left to right."""
    height, width = shape[:2]
    boxes = []
    for x, y, w, h, score, landmarks in raw:
        x0, y0 = max(0, round(x / scale)), max(0, round(y / scale))
        x1, y1 = min(width, round((x + w) / scale)), min(height, round((y + h) / scale))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            points = tuple((float(px) / scale, float(py) / scale) for px, py in landmarks) if landmarks else None
            boxes.append(Box(x0, y0, x1 - x0, y1 - y0, float(score), points))
    return sorted(boxes, key=lambda b: (b.x, b.y))


def suppress_overlaps(boxes: list[Box], max_overlap: float = 0.5) -> list[Box]:
    """Drop a box that mostly lies inside a higher-scoring one: the cascade often fires twice on one face."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(_overlap_of_smaller(box, other) <= max_overlap for other in kept):
            kept.append(box)
    return sorted(kept, key=lambda b: (b.x, b.y))


def _overlap_of_smaller(a: Box, b: Box) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / max(1, min(a.area, b.area))


class HaarDetector:
    """OpenCV's frontal-face Haar cascade: no weights to ship, but slower than YuNet and blind to turned faces."""

    name = "haar"

    def __init__(
        self,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 40,
        cascade: str = "haarcascade_frontalface_default.xml",
    ) -> None:
        if scale_factor <= 1.0:
            raise FerError("The Haar scale factor must be greater than 1.0.")
        self.scale_factor = scale_factor
        self.min_neighbors = int(min_neighbors)
        self.min_size = int(min_size)
        self._cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / cascade))
        if self._cascade.empty():
            raise FerError(f"OpenCV's Haar cascade {cascade} could not be loaded; reinstall opencv-python-headless<5.")

    def detect(self, frame: np.ndarray, width: int | None = None) -> list[Box]:
        small, scale = _downscale(_to_gray(frame), width)
        min_side = max(8, round(self.min_size * scale))
        found, _, weights = self._cascade.detectMultiScale3(
            small,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
            outputRejectLevels=True,
        )
        raw = [(x, y, w, h, float(weight), None) for (x, y, w, h), weight in zip(found, np.ravel(weights))]
        return suppress_overlaps(_boxes_back(raw, scale, frame.shape))


class YuNetDetector:
    """YuNet, a 230 KB CNN (cv2.FaceDetectorYN): finds turned, small and partly hidden faces Haar misses.

    Each box carries YuNet's five landmarks (eyes, nose tip, mouth corners), which the crop uses to level
    the eyes.
    """

    name = "yunet"

    def __init__(
        self,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.3,
        min_size: int = 20,
        model_path: str | Path = YUNET_PATH,
    ) -> None:
        if not Path(model_path).exists():
            raise FerError(f"The YuNet model file {model_path} is missing.")
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.min_size = int(min_size)
        self._net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, nms_threshold, 5000)
        self._input_size: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._lenient: YuNetDetector | None = None

    def lenient(self) -> "YuNetDetector":
        """The same detector at a score threshold of 0.5 (at most), for `detect_in_tight_crop`'s third look."""
        if self._lenient is None:
            self._lenient = YuNetDetector(min(0.5, self.score_threshold), self.nms_threshold, self.min_size)
        return self._lenient

    def detect(self, frame: np.ndarray, width: int | None = None) -> list[Box]:
        small, scale = _downscale(_to_bgr(frame), width)
        size = (small.shape[1], small.shape[0])
        with self._lock:  # the OpenCV net keeps per-size state
            if size != self._input_size:
                self._net.setInputSize(size)
                self._input_size = size
            _, faces = self._net.detect(small)
        if faces is None:
            return []
        min_side = self.min_size * scale
        # A row: x, y, w, h, then five (x, y) landmarks, then the score.
        raw = [(f[0], f[1], f[2], f[3], f[-1], tuple(zip(f[4:14:2], f[5:14:2])))
               for f in faces if min(f[2], f[3]) >= min_side]
        return _boxes_back(raw, scale, frame.shape)


TIGHT_CROP_MAX_SIDE = 400
"""Photos at most this many pixels on their longer side get a third look when nothing is found (below)."""


def detect_in_tight_crop(detector: FaceDetector, frame: np.ndarray) -> list[Box]:
    """A third look at a small photo that is all face: a passport-style crop or a web thumbnail.

    Detectors are trained on faces with some background around them, and miss a face that fills the picture
    or is smaller than their minimum size: 16 of the 1,655 wild_dev photos (25-127 px wide) had no face found.
    Here the photo is enlarged to 160 px and given a black border of a quarter of its side, and YuNet looks
    again at a score threshold of 0.5: 12 of those 16 are then found, and no face appeared in 32 frames of
    the no-face sample video. Only stills that found nothing come here, so the video path pays nothing.
    """
    height, width = frame.shape[:2]
    if max(height, width) > TIGHT_CROP_MAX_SIDE:
        return []
    scale = max(1.0, 160 / max(height, width))
    enlarged = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_CUBIC)
    pad = int(0.25 * max(enlarged.shape[:2]))
    padded = cv2.copyMakeBorder(enlarged, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    lenient = getattr(detector, "lenient", None)
    found = (lenient() if callable(lenient) else detector).detect(padded)
    boxes = []
    for b in found:
        x0, y0 = max(0, round((b.x - pad) / scale)), max(0, round((b.y - pad) / scale))
        x1, y1 = min(width, round((b.x + b.w - pad) / scale)), min(height, round((b.y + b.h - pad) / scale))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            points = (tuple(((px - pad) / scale, (py - pad) / scale) for px, py in b.landmarks)
                      if b.landmarks else None)
            boxes.append(Box(x0, y0, x1 - x0, y1 - y0, b.score, points))
    return boxes


DetectorFactory = Callable[..., FaceDetector]
_REGISTRY: dict[str, DetectorFactory] = {}
DETECTOR_DESCRIPTIONS: dict[str, str] = {}


def register_detector(name: str, factory: DetectorFactory, description: str = "") -> None:
    """Make a detector available to `create_detector`, the CLI's --detector and the dashboard."""
    _REGISTRY[name] = factory
    DETECTOR_DESCRIPTIONS[name] = description


def available_detectors() -> list[str]:
    """Registered names, the default first."""
    return sorted(_REGISTRY, key=lambda n: (n != DEFAULT_DETECTOR, n))


def default_params(name: str) -> dict[str, Any]:
    """A detector's tunable parameters and their defaults, read from its factory's signature (stated once)."""
    if name not in _REGISTRY:
        return {}
    parameters = inspect.signature(_REGISTRY[name]).parameters.values()
    return {p.name: p.default for p in parameters
            if p.default is not inspect.Parameter.empty and isinstance(p.default, (int, float)) and not isinstance(p.default, bool)}


def create_detector(name: str = DEFAULT_DETECTOR, **params: Any) -> FaceDetector:
    """Build a detector by name; unknown parameters are an error, not silently ignored."""
    if name not in _REGISTRY:
        raise FerError(f"Unknown detector '{name}'; choose one of: {', '.join(_REGISTRY)}.")
    try:
        return _REGISTRY[name](**params)
    except TypeError as exc:
        raise FerError(f"Bad parameter for the {name} detector: {exc}.") from None


register_detector("yunet", YuNetDetector, "YuNet CNN: turned, small and partly hidden faces too")
register_detector("haar", HaarDetector, "OpenCV Haar cascade: frontal faces only, no extra weights")
