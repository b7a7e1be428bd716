"""Things built once per process and shared by every session: the recognizer (detector + classifier),
the labelled sample set and its evaluation. Nothing here imports TensorFlow."""

from __future__ import annotations

from typing import Any

import streamlit as st

from .settings import Settings


@st.cache_resource(show_spinner="Loading the face detector and the emotion model...")
def _recognizer(model: str | None, detector: str, params: tuple, tta: bool):
    from fer_core.pipeline import EmotionRecognizer

    return EmotionRecognizer(detector=detector, model=model, tta=tta, detector_params=dict(params))


def recognizer(settings: Settings):
    """The shared `EmotionRecognizer` for these settings (built on first use, then reused).

    Thread-safe: the classifier and detector calls take locks, so a webcam thread and a page can share it.
    """
    return _recognizer(settings.model, settings.detector, settings.params_key(), settings.tta)


@st.cache_resource(show_spinner=False)
def _classifier(model: str | None, tta: bool):
    from fer_core.classifier import EmotionClassifier

    return EmotionClassifier(model, tta=tta)


def classifier(settings: Settings):
    """Only the emotion classifier (the explorer classifies ready-made face crops, no detection)."""
    return _classifier(settings.model, settings.tta)


def model_spec(settings: Settings) -> Any:
    from fer_core.models import get_model

    return get_model(settings.model)

