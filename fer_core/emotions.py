"""The seven FER2013 emotions, in the order every model in `models/` outputs them.

One place for names and colours so that a chart, an annotation and a CSV column always agree.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

DISPLAY_NAMES: dict[str, str] = {name: name.capitalize() for name in EMOTIONS}

# Colour-blind-friendly palette (Okabe-Ito based), one per emotion, used by every chart and annotation.
COLORS_HEX: dict[str, str] = {
    "angry": "#D55E00",
    "disgust": "#009E73",
    "fear": "#CC79A7",
    "happy": "#E69F00",
    "sad": "#0072B2",
    "surprise": "#56B4E9",
    "neutral": "#999999",
}


def hex_to_bgr(color: str) -> tuple[int, int, int]:
    """OpenCV draws in BGR; the palette is written in hex for the web."""
    color = color.lstrip("#")
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return (b, g, r)


COLORS_BGR: dict[str, tuple[int, int, int]] = {k: hex_to_bgr(v) for k, v in COLORS_HEX.items()}


def display_name(emotion: str) -> str:
    return DISPLAY_NAMES.get(emotion, emotion)
