"""The sidebar that edits the shared `fer_core.settings.Settings`, kept in `st.session_state`.

Every page uses the same typed settings object the command line and the library use; this module only
draws the widgets that edit it. Streamlit forgets a widget's value when the page that drew it is left, so
the values live under a separate, permanent key (`VALUES_KEY`) and every page's sidebar widgets are seeded
from it and copy their value back to it. Change the detector on the Image page, open the Video page: it is
still set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from fer_core.settings import Settings

if TYPE_CHECKING:
    from fer_core.models import ModelSpec

SETTINGS_KEY = "fer_settings"
VALUES_KEY = "fer_settings_values"
_WIDGET_PREFIX = "_sb_"

# The sliders' ranges per detector parameter: name -> (label, min, max, step, help). The defaults are the
# detector's own (`fer_core.detectors.default_params`).
DETECTOR_PARAMS: dict[str, dict[str, tuple]] = {
    "haar": {
        "scale_factor": ("Scale step", 1.05, 1.5, 0.05,
                         "How much the search window grows between passes: smaller finds more faces, slower."),
        "min_neighbors": ("Min. neighbours", 1, 12, 1,
                          "How many overlapping hits make a face: higher means fewer false faces."),
        "min_size": ("Min. face size (px)", 10, 200, 5, "Faces smaller than this are ignored."),
    },
    "yunet": {
        "score_threshold": ("Confidence threshold", 0.3, 0.95, 0.05,
                            "Detections below this score are dropped: lower finds more (and more false) faces."),
        "min_size": ("Min. face size (px)", 10, 200, 5, "Faces smaller than this are ignored."),
    },
}


def tunable_params(detector: str) -> dict[str, Any]:
    """The detector's parameters the sidebar shows, at their defaults."""
    from fer_core.detectors import default_params

    defaults = default_params(detector)
    return {name: defaults[name] for name in DETECTOR_PARAMS.get(detector, {}) if name in defaults}


def current() -> Settings:
    """The settings as last chosen in any page's sidebar (the library's defaults on first visit)."""
    settings = st.session_state.get(SETTINGS_KEY)
    if not isinstance(settings, Settings):
        defaults = Settings()
        settings = defaults.replace(detector_params=tunable_params(defaults.detector))
        st.session_state[SETTINGS_KEY] = settings
    return settings


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


def _detector_label(name: str) -> str:
    from fer_core.detectors import DETECTOR_DESCRIPTIONS

    description = DETECTOR_DESCRIPTIONS.get(name, "")
    return f"{description.split(':')[0]} ({name})" if description else name


def model_label(spec: "ModelSpec") -> str:
    """A model picker's option: the role first, "Fast (default) - 69.6 %, 0.1 ms"; another model by its name;
    a model scored on its own validation faces says so ("..., own validation faces, not comparable")."""
    from fer_core.models import aliases_of, primary_role, role_title

    role = role_title(primary_role(spec.name), "default" in aliases_of(spec.name))
    shown = role or spec.short_title or spec.name
    if spec.accuracy is not None and not spec.comparable:  # the score is in the caption, said in full
        return f"{shown} - not comparable"
    accuracy = f"{spec.accuracy:.1%}".replace("%", " %") if spec.accuracy is not None else "not scored"
    cost = f", {spec.ms_per_face:.1f} ms" if spec.ms_per_face is not None else ""
    return f"{shown} - {accuracy}{cost}"


def model_caption(spec: "ModelSpec") -> str:
    """Under the picker: the chosen model's name and title, and its score in words (said in full: the menu is
    short), e.g. "91.2 % on its own validation faces: not comparable with the PublicTest scores"."""
    if spec.accuracy is None:
        score = "Not scored."
    elif spec.comparable:
        score = f"{spec.accuracy:.1%} right on FER2013 PublicTest."
    else:
        score = (f"{spec.accuracy:.1%} right on its own validation faces (a part of its training upload): not "
                 "comparable with the PublicTest scores of the other models.")
    cost = f" {spec.ms_per_face:.2f} ms per face." if spec.ms_per_face is not None else ""
    return f"{spec.name}: {spec.title}. {score}{cost}"


def sidebar() -> Settings:
    """Draw the shared settings in the sidebar and return them."""
    from fer_core.detectors import DETECTOR_DESCRIPTIONS, available_detectors
    from fer_core.models import list_models, picker_order

    s = current()
    models = {spec.name: spec for spec in picker_order(list_models())}
    detectors = available_detectors()

    with st.sidebar:
        st.markdown("### Settings")
        st.caption("Shared by every page.")
        if s.model not in models and models:
            s = s.replace(model=next(iter(models)))
        values = st.session_state.setdefault(VALUES_KEY, {})
        if values.get("model") not in models:  # e.g. a model folder removed while the app runs
            values.pop("model", None)
        if values.get("detector") not in detectors:
            values.pop("detector", None)
        model = st.selectbox(
            "Model", options=list(models), **_seed("model", s.model),
            format_func=lambda n: model_label(models[n]) if n in models else n,
            help="The emotion classifier, with its accuracy on FER2013 PublicTest (faces it never saw in training) "
                 "and its time per face on one CPU thread. Fast: small and quick, for video and the webcam; "
                 "Accurate: the most accurate single network; Best: several networks averaged, most accurate and "
                 "slowest. Then the project's other models, then models trained on the Training page, scored on "
                 "their own validation faces (not comparable with PublicTest).",
        )
        st.caption(model_caption(models[model]) if model in models else "")
        detector = st.selectbox(
            "Face detector", options=detectors, **_seed("detector", s.detector if s.detector in detectors else detectors[0]),
            format_func=_detector_label,
            help=" ".join(f"{name}: {text}." for name, text in DETECTOR_DESCRIPTIONS.items()),
        )
        params = dict(s.detector_params) if detector == s.detector else tunable_params(detector)
        defaults = tunable_params(detector)
        with st.expander("Detector parameters", expanded=False):
            chosen = {}
            for name, (label, lo, hi, step, help_text) in DETECTOR_PARAMS.get(detector, {}).items():
                value = params.get(name, defaults.get(name, lo))
                chosen[name] = st.slider(label, min_value=lo, max_value=hi, step=step,
                                         **_seed(f"{detector}_{name}", value), help=help_text)
        smoothing = st.slider(
            "Smoothing window (video and webcam)", min_value=1, max_value=15, step=1,
            **_seed("smoothing", int(s.smoothing)),
            help="Each face's probabilities are averaged over about this many analysed frames so labels do not "
                 "flicker; 1 = every frame on its own.",
        )
        level_eyes = st.toggle("Level the eyes", **_seed("level_eyes", s.level_eyes),
                               help="Turn each face so its eyes are level before the model sees it (uses YuNet's "
                                    "eye positions; no effect with the Haar cascade).")
        tta = st.toggle("Mirror test-time augmentation", **_seed("tta", s.tta),
                        help="Average each face with its mirror image: a little steadier, twice the classifier work.")

    new = s.replace(model=model, detector=detector, detector_params=chosen, smoothing=int(smoothing),
                    level_eyes=bool(level_eyes), tta=bool(tta))
    st.session_state[SETTINGS_KEY] = new
    return new
