"""Drawing results on frames: a box and a label in the emotion's colour, readable at any size.

The label drawn is the face's `smoothed_label` (in a photo, the model's label). Labels are numbered (`#1 Happy
92%`) with the face's track id in videos, or its place in the list in a photo when `numbered=True` (a photo's
faces come in reading order, `fer_core.pipeline.reading_order`), so the picture can be matched to tables and
crop galleries.

Line width and font grow with the frame's width (`Style.for_frame`), so the labels are as legible on a 640x360
video as on a 40-megapixel photo, and still readable where a page shows the picture at a phone's width.
`layout_labels` places every label where it covers neither another label nor a face: above its box, else below
it, else beside; where none of these is free (a crowd), it shortens the label ("#2 Happy", then "#2") before it
accepts the position that covers least.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .emotions import COLORS_BGR, display_name
from .results import FaceResult

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1
FONT = cv2.FONT_HERSHEY_SIMPLEX


PHONE_WIDTH = 320
"""CSS pixels a picture is shown at on a phone: the Image page on a 390-pixel screen shows it 326 wide."""
PHONE_TEXT_HEIGHT = 10
"""How tall a label's letters are (in CSS pixels) when the picture is shown `PHONE_WIDTH` pixels wide."""
_TEXT_HEIGHT_AT_SCALE_1 = cv2.getTextSize("Hg", FONT, 1.0, 1)[0][1]  # 22 pixels


@dataclass(frozen=True)
class Style:
    """Sizes for one frame: font scale, text stroke, box line width and the label's padding, in pixels."""

    font_scale: float
    text_thickness: int
    line_width: int
    padding: int

    @property
    def text_height(self) -> int:
        """Height of a label's letters in the frame's pixels."""
        return cv2.getTextSize("Hg", FONT, self.font_scale, self.text_thickness)[0][1]

    @classmethod
    def for_frame(cls, shape: Sequence[int]) -> "Style":
        """Proportional to the frame's width, the side a page fits to the screen: the letters are
        `PHONE_TEXT_HEIGHT` pixels tall when the picture is shown `PHONE_WIDTH` pixels wide (a 1000-pixel
        photo gets 31-pixel letters and 4-pixel lines), and never under 11 pixels; a frame far wider than tall
        (a panorama) caps them at a tenth of its height."""
        height, width = max(int(shape[0]), 1), max(int(shape[1]), 1)
        text = min(width * PHONE_TEXT_HEIGHT / PHONE_WIDTH, height / 10)
        scale = max(0.5, text / _TEXT_HEIGHT_AT_SCALE_1)
        return cls(font_scale=scale, text_thickness=max(1, round(scale * 1.6)), line_width=max(2, round(text / 8)),
                   padding=max(3, round(scale * 5)))


@dataclass(frozen=True)
class Label:
    text: str
    rect: Rect
    color: tuple[int, int, int]
    baseline: int  # y of the text's baseline


def _area(a: Rect, b: Rect) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0


def _texts(face: FaceResult, number: int | None) -> list[str]:
    """The label, then shorter forms for crowded pictures."""
    name = display_name(face.smoothed_label)
    full = f"{name} {face.smoothed_confidence:.0%}"
    if number is None:
        return [full, name]
    return [f"#{number} {full}", f"#{number} {name}", f"#{number}"]


def _candidates(box: Rect, width: int, height: int, gap: int) -> list[tuple[int, int]]:
    """Top-left corners, in order of preference: above, below, right, left of the box, each at both ends."""
    x0, y0, x1, y1 = box
    return [
        (x0, y0 - gap - height), (x1 - width, y0 - gap - height),  # above, left then right aligned
        (x0, y1 + gap), (x1 - width, y1 + gap),  # below
        (x1 + gap, y0), (x1 + gap, y1 - height),  # right of the box
        (x0 - gap - width, y0), (x0 - gap - width, y1 - height),  # left of it
    ]


def layout_labels(faces: Sequence[FaceResult], shape: Sequence[int], numbered: bool = False,
                  style: Style | None = None) -> list[Label]:
    """Where each face's label goes: no label on another label or on a face wherever the picture has room.

    Labels are placed in order of face size (largest first); each takes the first free position among its
    candidates (`_candidates`), in the frame. If none is free with the full text, the shorter texts are tried;
    if still none, the position covering the least face and label area is taken.
    """
    style = style or Style.for_frame(shape)
    frame_h, frame_w = int(shape[0]), int(shape[1])
    boxes: list[Rect] = [(f.box.x, f.box.y, f.box.x + f.box.w, f.box.y + f.box.h) for f in faces]
    gap = style.line_width // 2 + 1
    placed: dict[int, Label] = {}
    taken: list[Rect] = []
    for i in sorted(range(len(faces)), key=lambda k: -faces[k].box.area):
        face = faces[i]
        number = face.track_id if face.track_id is not None else (i + 1 if numbered else None)
        best: tuple[float, int, Label] | None = None
        for level, text in enumerate(_texts(face, number)):
            (tw, th), base = cv2.getTextSize(text, FONT, style.font_scale, style.text_thickness)
            width, height = tw + 2 * style.padding, th + base + 2 * style.padding
            for order, (x, y) in enumerate(_candidates(boxes[i], width, height, gap)):
                x = min(max(0, x), max(0, frame_w - width))
                y = min(max(0, y), max(0, frame_h - height))
                rect = (x, y, x + width, y + height)
                cover = sum(_area(rect, other) for other in taken) + sum(_area(rect, b) for b in boxes)
                label = Label(text, rect, COLORS_BGR.get(face.smoothed_label, (255, 255, 255)),
                              y + style.padding + th)
                key = (cover, level * 100 + order)
                if best is None or key < best[:2]:
                    best = (cover, level * 100 + order, label)
            if best is not None and best[0] == 0:
                break
        assert best is not None
        placed[i] = best[2]
        taken.append(best[2].rect)
    return [placed[i] for i in range(len(faces))]


def draw_faces(
    frame: np.ndarray,
    faces: Sequence[FaceResult],
    copy: bool = True,
    numbered: bool = False,
) -> np.ndarray:
    """Annotated frame (a copy unless `copy=False`): boxes first, then every label on top."""
    out = frame.copy() if copy else frame
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    style = Style.for_frame(out.shape)
    for face in faces:
        b = face.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), COLORS_BGR.get(face.smoothed_label, (255, 255, 255)),
                      style.line_width)
    for label in layout_labels(faces, out.shape, numbered=numbered, style=style):
        x0, y0, x1, y1 = label.rect
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), label.color, -1)
        cv2.putText(out, label.text, (x0 + style.padding, label.baseline), FONT, style.font_scale, (0, 0, 0),
                    style.text_thickness, cv2.LINE_AA)
    return out
