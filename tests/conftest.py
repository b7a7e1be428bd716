"""Shared fixtures: the real model and detectors on the real sample media in the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "samples" / "photos"
VIDEOS = ROOT / "samples" / "videos"
FER_MINI = ROOT / "samples" / "fer2013_mini"


@pytest.fixture(scope="session")
def haar_recognizer():
    from fer_core import EmotionRecognizer

    return EmotionRecognizer(detector="haar")


@pytest.fixture(scope="session")
def yunet_recognizer():
    from fer_core import EmotionRecognizer

    return EmotionRecognizer(detector="yunet")
