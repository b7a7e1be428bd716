"""One face up close (a dialog over the gallery): the face and its facts, what drives the prediction
(occlusion saliency, no TensorFlow), the perturbation playground, and its probabilities under every model.

A dialog is a fragment: moving a playground slider reruns only the dialog, not the page behind it.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pandas as pd
import streamlit as st

from fer_core.emotions import EMOTIONS, display_name
from fer_core.perturb import Perturbation, apply
from fer_core.saliency import occlusion_saliency, overlay

from . import charts, explorer, ui
from .resources import classifier_for

EXPLAIN_PICK = "explorer_explain_pick"  # (face, class) the user chose to explain, if any
FACT_COLUMNS = [("face_px", "face size", "{:.0f} px"), ("brightness", "brightness", "{:.0f}"),
                ("contrast", "contrast", "{:.0f}"), ("blur", "sharpness (Laplacian variance)", "{:.0f}"),
                ("detector_score", "detector score", "{:.2f}"), ("roll", "roll", "{:+.0f}°"),
                ("yaw", "yaw (approx.)", "{:+.0f}°")]


def _closed() -> None:
    st.session_state.pop(explorer.FACE_KEY, None)


def _big(face: np.ndarray) -> np.ndarray:
    return cv2.resize(face, (224, 224), interpolation=cv2.INTER_CUBIC)


def _facts(row: pd.Series) -> str:
    parts = []
    for column, name, fmt in FACT_COLUMNS:
        value = row.get(column)
        if value is not None and not pd.isna(value):
            parts.append(f"{name} {fmt.format(float(value))}")
    return " · ".join(parts)


@st.dialog("Face up close", width="large", on_dismiss=_closed, icon=":material/face:")
def close_up(run: Any, row: int) -> None:
    table = explorer.table_of(run)
    r = table.iloc[row]
    face = run.crops[row]
    classes = list(EMOTIONS)
    model_name = run.model
    tta = bool(run.settings.get("tta", False))
    if not bool(r["face_found"]):
        st.markdown(f"**{r['file']}** · true {display_name(str(r['true_label']))}")
        st.image(explorer.thumbnail(run, row, False), width=320)
        st.info("The face detector found no face in this photo, so the model never saw it: it is listed here and "
                "left out of every figure.", icon=":material/face_retouching_off:")
        return
    probs = np.array([float(r[f"p_{c}"]) for c in classes])
    predicted = classes[int(np.argmax(probs))]
    true = str(r["true_label"])

    st.markdown(f"**{r['file']}** · {_facts(r)}")
    c1, c2, c3 = st.columns([1, 1, 1.5], gap="medium")
    with c1:
        st.image(_big(face), width=224, caption="The face as the model sees it")
        st.markdown(f"True: {ui.chip(true)} Model: {ui.chip(predicted, float(probs.max()))}", unsafe_allow_html=True)
    with c2:
        # The map explains the model's label for this face until the user picks another class for this face.
        this_face = (model_name, tta, row)
        pick = st.session_state.get(EXPLAIN_PICK)
        st.session_state["explorer_target"] = pick[1] if pick and pick[0] == this_face else predicted

        def remember_pick(face_id: tuple = this_face) -> None:
            st.session_state[EXPLAIN_PICK] = (face_id, st.session_state["explorer_target"])

        target = st.selectbox("Explain", classes, format_func=display_name, key="explorer_target",
                              on_change=remember_pick,
                              help="The class whose probability the map explains: the model's label unless you "
                                   "pick another.")
        heat = explorer.saliency_map(model_name, tta, face, classes.index(target))
        st.image(overlay(face, heat, size=224), width=224,
                 caption="Occlusion map: red = covering this area lowers the score most.")
    with c3:
        st.plotly_chart(charts.probability_bars(dict(zip(classes, map(float, probs))), title="Probabilities"),
                        key="explorer_probs", config={"displayModeBar": False}, width="stretch")

    tab_play, tab_models = st.tabs([":material/tune: Robustness playground", ":material/compare: Every model"])
    with tab_play:
        _playground(face, probs, predicted, target, heat, classes, model_name, tta)
    with tab_models:
        every = explorer.probabilities_under_every_model(face, tta)
        if every.empty:
            st.info("No model could be loaded.")
        else:
            shown = every[["model", "label", "confidence", *classes]].copy()
            shown["label"] = shown["label"].map(display_name)
            st.dataframe(shown, hide_index=True, width="stretch", column_config={
                "confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1, format="percent"),
                **{c: st.column_config.NumberColumn(display_name(c), format="percent") for c in classes}})
            agree = int((every["label"] == true).sum())
            st.caption(f"{agree} of {len(every)} models say {display_name(true)}, the set's label. Calibrated "
                       "probabilities (each model's own temperature).")


def _playground(face: np.ndarray, probs: np.ndarray, predicted: str, target: str, heat: np.ndarray,
                classes: list[str], model_name: str, tta: bool) -> None:
    classifier = classifier_for(model_name, tta)
    size = classifier.input_size
    st.caption("Change the face and watch the probabilities: the model was trained on centred, upright, evenly "
               "lit faces.")
    s1, s2, s3 = st.columns(3)
    brightness = s1.slider("Brightness", -120, 120, 0, 5, key="pg_brightness")
    contrast = s1.slider("Contrast", 0.2, 2.5, 1.0, 0.1, key="pg_contrast")
    blur_sigma = s2.slider("Blur (pixels)", 0.0, 5.0, 0.0, 0.25, key="pg_blur")
    rotation = s2.slider("Rotation (degrees)", -60, 60, 0, 5, key="pg_rotation")
    mirror = s3.toggle("Mirror", key="pg_mirror")
    patch_size = s3.slider("Occluding patch size", 0.0, 0.7, 0.0, 0.05, key="pg_patch",
                           help="A black square, as a share of the face's side.")
    if patch_size > 0:
        px, py = s3.columns(2)
        patch_x = px.slider("Patch x", 0.0, 1.0, 0.5, 0.05, key="pg_patch_x")
        patch_y = py.slider("Patch y", 0.0, 1.0, 0.35, 0.05, key="pg_patch_y")
    else:
        patch_x, patch_y = 0.5, 0.35
    p = Perturbation(brightness=brightness, contrast=contrast, blur_sigma=blur_sigma, rotation=rotation,
                     mirror=mirror, patch_size=patch_size, patch_x=patch_x, patch_y=patch_y)
    changed = apply(face, p)
    new_probs = classifier.predict(explorer.model_input(changed, size)[None])[0]
    new_label = classes[int(np.argmax(new_probs))]
    r1, r2, r3 = st.columns([1, 1, 2.2], gap="medium")
    with r1:
        st.image(_big(changed), width=200, caption="Changed face")
        verdict = "same label" if new_label == predicted else "label changed"
        st.markdown(f"{ui.chip(predicted, float(probs.max()), small=True)} → "
                    f"{ui.chip(new_label, float(new_probs.max()), small=True)} <small>({verdict})</small>",
                    unsafe_allow_html=True)
    with r2:
        if np.array_equal(changed, face) and new_label == target:
            new_heat = heat  # nothing changed: the same map as above, not a coarser one
        else:  # every slider move: a coarser grid (stride 4) keeps it quick
            new_heat = occlusion_saliency(explorer.model_input(changed, size), classifier.predict,
                                          classes.index(new_label), patch=8, stride=4)
        st.image(overlay(changed, new_heat, size=200), width=200, caption=f"What drives {display_name(new_label)} now")
    with r3:
        st.plotly_chart(charts.probability_comparison(classes, probs, new_probs), key="explorer_playground",
                        config={"displayModeBar": False}, width="stretch")
        st.caption("Faded bars: the original face. Solid bars: the changed face.")
