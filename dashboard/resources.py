"""Things built once per process and shared by every session: the recognizer (detector + classifier) and
the classifier alone. Nothing here imports TensorFlow."""

from __future__ import annotations

from typing import Any

import streamlit as st

from fer_core.settings import Settings


@st.cache_resource(show_spinner="Loading the face detector and the emotion model...", max_entries=8)
def _recognizer(key: tuple, _settings: Settings) -> Any:
    """Cached by `key` (the settings as a tuple); `_settings` is not hashed (the leading underscore)."""
    from fer_core.pipeline import EmotionRecognizer

    return EmotionRecognizer(_settings)


def recognizer(settings: Settings) -> Any:
    """The shared `EmotionRecognizer` for these settings (built on first use, then reused).

    Thread-safe: the classifier and detector calls take locks, so a webcam thread and a page can share it.
    """
    return _recognizer(settings.key(), settings)


@st.cache_resource(show_spinner=False)
def classifier_for(model: str | None, tta: bool) -> Any:
    """Only the emotion classifier (the explorer classifies ready-made face crops, no detection)."""
    from fer_core.classifier import EmotionClassifier

    return EmotionClassifier(model, tta=tta)


def model_spec(settings: Settings) -> Any:
    from fer_core.models import get_model

    return get_model(settings.model)
