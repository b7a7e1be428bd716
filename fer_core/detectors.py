"""Face detectors behind one small interface, built by name from a registry.

Callers ask `create_detector("haar")` or `create_detector("yunet")` and get an object with
`detect(frame) -> list[Box]`; adding a detector means registering one factory, not editing callers.
Both detectors run on a copy of the frame downscaled to `detect_width` pixels wide, because detection
dominates the cost per frame and faces big enough to classify survive the downscale; boxes are mapped back.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import cv2
import numpy as np

from .errors import FerError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
YUNET_PATH = MODELS_DIR / "detectors" / "face_detection_yunet_2026may.onnx"


@dataclass(frozen=True)
class Box:
    """A face rectangle in frame pixels, with the detector's confidence."""

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0

    @property
    def area(self) -> int:
        return self.w * self.h

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def iou(self, other: "Box") -> float:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x + self.w, other.x + other.w), min(self.y + self.h, other.y + other.h)
        inter = max(0, x1 - x0) * max(0, y1 - y0)
        union = self.area + other.area - inter
        return inter / union if union else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(float(self.score), 4)
        return data


class FaceDetector(Protocol):
    """Anything with a name and `detect(frame_bgr) -> list[Box]` (boxes sorted left to right)."""

    name: str

    def detect(self, frame: np.ndarray) -> list[Box]: ...


def _downscale(frame: np.ndarray, detect_width: int | None) -> tuple[np.ndarray, float]:
    """Frame for detection and the factor that maps its boxes back to the original."""
    width = frame.shape[1]
    if not detect_width or width <= detect_width:
        return frame, 1.0
    scale = detect_width / width
    small = cv2.resize(frame, (detect_width, max(1, round(frame.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    return small, scale


def _to_gray(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def _to_bgr(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame


def _boxes_back(raw: list[tuple[float, float, float, float, float]], scale: float, shape: tuple[int, ...]) -> list[Box]:
    height, width = shape[:2]
    boxes = []
    for x, y, w, h, score in raw:
        x0, y0 = max(0, round(x / scale)), max(0, round(y / scale))
        x1, y1 = min(width, round((x + w) / scale)), min(height, round((y + h) / scale))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            boxes.append(Box(x0, y0, x1 - x0, y1 - y0, float(score)))
    return sorted(boxes, key=lambda b: (b.x, b.y))


def detect_at_width(detect: Callable[[np.ndarray], list[Box]], frame: np.ndarray, width: int | None) -> list[Box]:
    """Run a detection function on a copy of the frame `width` pixels wide; boxes in the frame's pixels.

    For callers that want a smaller detection size than a shared detector was built with (a live stream
    on a recognizer the other pages also use), without changing the detector.
    """
    small, scale = _downscale(frame, width)
    if scale == 1.0:
        return detect(frame)
    raw = [(b.x, b.y, b.w, b.h, b.score) for b in detect(small)]
    return _boxes_back(raw, scale, frame.shape)


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
        detect_width: int | None = 640,
        cascade: str = "haarcascade_frontalface_default.xml",
    ) -> None:
        if scale_factor <= 1.0:
            raise FerError("The Haar scale factor must be greater than 1.0.")
        self.scale_factor = scale_factor
        self.min_neighbors = int(min_neighbors)
        self.min_size = int(min_size)
        self.detect_width = detect_width
        self._cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / cascade))
        if self._cascade.empty():
            raise FerError(f"OpenCV's Haar cascade {cascade} could not be loaded; reinstall opencv-python-headless<5.")

    def detect(self, frame: np.ndarray) -> list[Box]:
        small, scale = _downscale(_to_gray(frame), self.detect_width)
        min_side = max(8, round(self.min_size * scale))
        found, _, weights = self._cascade.detectMultiScale3(
            small,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
            outputRejectLevels=True,
        )
        raw = [(x, y, w, h, float(weight)) for (x, y, w, h), weight in zip(found, np.ravel(weights))]
        return suppress_overlaps(_boxes_back(raw, scale, frame.shape))


class YuNetDetector:
    """YuNet, a 230 KB CNN (cv2.FaceDetectorYN): finds turned, small and partly hidden faces Haar misses."""

    name = "yunet"

    def __init__(
        self,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.3,
        min_size: int = 20,
        detect_width: int | None = 640,
        model_path: str | Path = YUNET_PATH,
    ) -> None:
        if not Path(model_path).exists():
            raise FerError(f"The YuNet model file {model_path} is missing.")
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.min_size = int(min_size)
        self.detect_width = detect_width
        self._net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, nms_threshold, 5000)
        self._input_size: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def detect(self, frame: np.ndarray) -> list[Box]:
        small, scale = _downscale(_to_bgr(frame), self.detect_width)
        size = (small.shape[1], small.shape[0])
        with self._lock:  # the OpenCV net keeps per-size state
            if size != self._input_size:
                self._net.setInputSize(size)
                self._input_size = size
            _, faces = self._net.detect(small)
        if faces is None:
            return []
        min_side = self.min_size * scale
        raw = [(f[0], f[1], f[2], f[3], f[-1]) for f in faces if min(f[2], f[3]) >= min_side]
        return _boxes_back(raw, scale, frame.shape)


DetectorFactory = Callable[..., FaceDetector]
_REGISTRY: dict[str, DetectorFactory] = {}
DETECTOR_DESCRIPTIONS: dict[str, str] = {}


def register_detector(name: str, factory: DetectorFactory, description: str = "") -> None:
    """Make a detector available to `create_detector`, the CLI's --detector and the dashboard."""
    _REGISTRY[name] = factory
    DETECTOR_DESCRIPTIONS[name] = description


def available_detectors() -> list[str]:
    return list(_REGISTRY)


def create_detector(name: str = "haar", **params: Any) -> FaceDetector:
    """Build a detector by name; unknown parameters are an error, not silently ignored."""
    if name not in _REGISTRY:
        raise FerError(f"Unknown detector '{name}'; choose one of: {', '.join(_REGISTRY)}.")
    try:
        return _REGISTRY[name](**params)
    except TypeError as exc:
        raise FerError(f"Bad parameter for the {name} detector: {exc}.") from None


register_detector("haar", HaarDetector, "OpenCV Haar cascade: frontal faces, no extra weights")
register_detector("yunet", YuNetDetector, "YuNet CNN: turned, small and partly hidden faces too")
