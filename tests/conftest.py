"""Shared fixtures: the real model and detectors on the real sample media in the repo."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def haar_recognizer():
    from fer_core import EmotionRecognizer

    return EmotionRecognizer(detector="haar")


@pytest.fixture(scope="session")
def yunet_recognizer():
    from fer_core import EmotionRecognizer

    return EmotionRecognizer(detector="yunet")
