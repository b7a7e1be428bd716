"""`Settings`: everything that decides what the frame path does, as one typed, immutable object.

The command line builds one from its options, the dashboard's sidebar edits one, the webcam and the Video
page hand theirs to the same `EmotionRecognizer` and `FrameProcessor`. The defaults are the real-time
preset (`REALTIME`), measured in benchmarks/: YuNet on a 320-pixel-wide copy of the frame, in a video on
one frame in five with tracking in between; `THOROUGH` runs the detector on every analysed frame at
640 pixels and is the reference the defaults are checked against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .detectors import DEFAULT_DETECTOR

LEVEL_EYES_DEFAULT = False
"""Eye-levelled crops are off by default because they did not measure better on the project's labelled data
(benchmarks/eye_levelling.py, benchmarks/results/eye_levelling.json): no label changed on the labelled
photos or on single_face.mp4, and FER2013 PublicTest accuracy moved from 60.88 % to 60.58 % (149 faces
fixed, 159 broken: no real difference). They do pay on heads that lean: PublicTest faces turned by
10-20 degrees went from 57.54 % to 61.45 %. One switch away: `--level-eyes`, the sidebar, `level_eyes=True`."""


@dataclass(frozen=True)
class Settings:
    """How faces are found, cropped, classified, tracked and smoothed.

    - `detector`, `detector_params`: a registered detector (`fer_core.detectors`) and its parameters.
    - `model`: a registry model name (None: the default model, `models/DEFAULT`); `tta`: mirror averaging.
    - `level_eyes`: turn each face so its eyes are level before cropping (needs YuNet's landmarks).
    - `detect_width`: detect on a copy this many pixels wide (None: full size); crops always come from
      the full frame. `retry_width`: a photo where nothing was found gets a second look at this width.
    - `detect_every`: in a video or stream, run the detector on one analysed frame in this many and track
      the faces in between (a lost face or an empty picture is detected again on the next frame).
    - `smoothing`: each face's probabilities are averaged over about this many analysed frames (1: off).
    """

    detector: str = DEFAULT_DETECTOR
    detector_params: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    tta: bool = False
    level_eyes: bool = LEVEL_EYES_DEFAULT
    detect_width: int | None = 320
    retry_width: int | None = 640
    detect_every: int = 5
    smoothing: int = 5

    def __post_init__(self) -> None:
        from .errors import FerError

        if self.detect_every < 1 or self.smoothing < 1:
            raise FerError("detect_every and smoothing must be at least 1.")
        if self.detect_width is not None and self.detect_width < 32:
            raise FerError("The detection width must be at least 32 pixels (or None for full size).")

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (settings are immutable, so pages can share them safely)."""
        return replace(self, **changes)

    def key(self) -> tuple:
        """All fields as a hashable tuple: a cache key, and a way to tell whether settings changed."""
        return tuple((name, tuple(sorted(value.items())) if isinstance(value, dict) else value)
                     for name, value in self.to_dict().items())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


REALTIME = Settings()
"""The defaults: fast enough for a live webcam and well over 5x the `fer` package on every-frame video."""

THOROUGH = Settings(detect_width=640, retry_width=None, detect_every=1)
"""The detector on every analysed frame at 640 pixels: slower, the reference the defaults are checked against."""

PRESETS: dict[str, Settings] = {"realtime": REALTIME, "thorough": THOROUGH}
