"""Settings shared by every page, shown in the sidebar and kept in `st.session_state`.

Streamlit forgets a widget's value when the page that drew it is left, so the values live under a
separate, permanent key (`SETTINGS_KEY`) and every page's sidebar widgets are seeded from it and copy
their value back to it. Change the detector on the Image page, open the Video page: it is still set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import streamlit as st

SETTINGS_KEY = "fer_settings"
_WIDGET_PREFIX = "_sb_"

DETECTOR_LABELS = {
    "haar": "Haar cascade (frontal faces)",
    "yunet": "YuNet CNN (turned and small faces too)",
}

# name -> (label, min, max, default, step, help)
DETECTOR_PARAMS: dict[str, dict[str, tuple]] = {
    "haar": {
        "scale_factor": ("Scale step", 1.05, 1.5, 1.1, 0.05,
                         "How much the search window grows between passes: smaller finds more faces, slower."),
        "min_neighbors": ("Min. neighbours", 1, 12, 5, 1,
                          "How many overlapping hits make a face: higher means fewer false faces."),
        "min_size": ("Min. face size (px)", 10, 200, 40, 5, "Faces smaller than this are ignored."),
    },
    "yunet": {
        "score_threshold": ("Confidence threshold", 0.3, 0.95, 0.7, 0.05,
                            "Detections below this score are dropped: lower finds more (and more false) faces."),
        "min_size": ("Min. face size (px)", 10, 200, 20, 5, "Faces smaller than this are ignored."),
    },
}


@dataclass(frozen=True)
class Settings:
    """What every page needs to build its recognizer and process frames."""

    model: str | None = None
    detector: str = "haar"
    detector_params: dict[str, Any] = field(default_factory=dict)
    smoothing: int = 5  # EMA window in analysed frames; 1 = off
    tta: bool = False

    def params_key(self) -> tuple:
        """Hashable form of the detector parameters (for caching)."""
        return tuple(sorted(self.detector_params.items()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_params(detector: str) -> dict[str, Any]:
    return {name: spec[3] for name, spec in DETECTOR_PARAMS.get(detector, {}).items()}


def current() -> Settings:
    """The settings as last chosen in any page's sidebar (defaults on first visit)."""
    settings = st.session_state.get(SETTINGS_KEY)
    if not isinstance(settings, Settings):
        settings = _defaults()
        st.session_state[SETTINGS_KEY] = settings
    return settings


def _defaults() -> Settings:
    from fer_core.models import default_model_name

    return Settings(model=default_model_name(), detector="haar", detector_params=default_params("haar"))


VALUES_KEY = "fer_settings_values"


def _store(name: str) -> None:
    """on_change: copy a widget's new value to the permanent store before the script reruns."""
    st.session_state.setdefault(VALUES_KEY, {})[name] = st.session_state[_WIDGET_PREFIX + name]


def _seed(name: str, value: Any) -> dict[str, Any]:
    """Widget kwargs (key, on_change) with the widget's value set from the permanent store.

    Set on every run, not only when the key is missing: after a page switch Streamlit keeps the key but
    the new page's widget is a different widget, which would otherwise start from its default value.
    """
    values = st.session_state.setdefault(VALUES_KEY, {})
    values.setdefault(name, value)
    st.session_state[_WIDGET_PREFIX + name] = values[name]
    return {"key": _WIDGET_PREFIX + name, "on_change": _store, "args": (name,)}


def sidebar() -> Settings:
    """Draw the shared settings in the sidebar and return them."""
    from fer_core.detectors import available_detectors
    from fer_core.models import list_models

    s = current()
    models = {spec.name: spec for spec in list_models()}
    detectors = available_detectors()

    with st.sidebar:
        st.markdown("### Settings")
        st.caption("Shared by every page.")
        if s.model not in models and models:
            s = replace(s, model=next(iter(models)))
        values = st.session_state.setdefault(VALUES_KEY, {})
        if values.get("model") not in models:  # e.g. a model folder removed while the app runs
            values.pop("model", None)
        if values.get("detector") not in detectors:
            values.pop("detector", None)
        model = st.selectbox(
            "Model", options=list(models), **_seed("model", s.model),
            format_func=lambda n: models[n].title if n in models else n,
            help="The emotion classifier. Models live in models/ (one folder each).",
        )
        detector = st.selectbox(
            "Face detector", options=detectors, **_seed("detector", s.detector if s.detector in detectors else detectors[0]),
            format_func=lambda n: DETECTOR_LABELS.get(n, n),
        )
        params = dict(s.detector_params) if detector == s.detector else default_params(detector)
        with st.expander("Detector parameters", expanded=False):
            chosen = {}
            for name, (label, lo, hi, default, step, help_text) in DETECTOR_PARAMS.get(detector, {}).items():
                value = params.get(name, default)
                key = f"{detector}_{name}"
                chosen[name] = st.slider(label, min_value=lo, max_value=hi, step=step, **_seed(key, value),
                                         help=help_text)
        smoothing = st.slider(
            "Smoothing window (video and webcam)", min_value=1, max_value=15, step=1,
            **_seed("smoothing", int(s.smoothing)),
            help="Each face's probabilities are averaged over about this many analysed frames so labels do not "
                 "flicker; 1 = every frame on its own.",
        )
        tta = st.toggle("Mirror test-time augmentation", **_seed("tta", s.tta),
                        help="Average each face with its mirror image: a little steadier, twice the classifier work.")

    new = Settings(model=model, detector=detector, detector_params=chosen, smoothing=int(smoothing), tta=bool(tta))
    st.session_state[SETTINGS_KEY] = new
    return new
