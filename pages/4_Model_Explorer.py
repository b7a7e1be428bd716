"""Model Explorer: how good the model is on labelled faces, what it looks at, what breaks it, its card."""

from __future__ import annotations


import cv2
import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, explorer, model_card, resources, ui
from dashboard.explorer import model_comparison
from fer_core.emotions import display_name
from fer_core.models import ALIAS_ROLES
from fer_core.perturb import Perturbation, apply
from fer_core.saliency import occlusion_saliency, overlay

settings = ui.setup_page(
    "Model Explorer", ":material/biotech:",
    "Explore the model's behaviour on a bundled labelled sample: 10 FER2013 test faces per emotion. How often "
    "is it right, which pixels drive a prediction, and how much light, blur, tilt or a covered eye change it.",
)

try:
    spec = resources.model_spec(settings)
    classifier = resources.classifier_for(settings.model, settings.tta)
    ev = explorer.evaluate_samples(settings.model, settings.tta)
except Exception as error:  # noqa: BLE001
    ui.show_error(error, "the sample set")
    st.stop()

SIZE = classifier.input_size
EXPLAIN_PICK = "explorer_explain_pick"  # (face, class) the user chose to explain, if any
tab_acc, tab_face, tab_card = st.tabs([":material/analytics: Accuracy", ":material/face: One face up close",
                                       ":material/description: Model card"])

# --- Accuracy -------------------------------------------------------------------------------------------
with tab_acc:
    table = ev.per_class_table()
    m = st.columns(4)
    m[0].metric("Accuracy", f"{ev.accuracy:.0%}", help="Share of the sample faces whose top label is the true one.")
    m[1].metric("Faces", len(ev.y_true))
    m[2].metric("Macro F1", f"{table['f1'].mean():.2f}")
    m[3].metric("Chance level", f"{1 / len(ev.classes):.0%}")
    st.caption(f"{spec.title}{' with mirror test-time augmentation' if settings.tta else ''}. 70 faces is a small "
               "sample: one face more or less right moves a class's recall by 10 points. Human agreement on "
               "FER2013 is about 65%.")
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.markdown("##### Confusion matrix")
        st.plotly_chart(charts.confusion_heatmap(ev.confusion, ev.classes), key="explorer_cm",
                        config={"displayModeBar": False}, width="stretch")
    with right:
        st.markdown("##### Precision and recall per class")
        st.plotly_chart(charts.precision_recall_bars(table), key="explorer_pr",
                        config={"displayModeBar": False}, width="stretch")
    shown = table.copy()
    shown.index = [display_name(c) for c in shown.index]
    for c in ("precision", "recall", "f1"):
        shown[c] = (shown[c].astype(float) * 100).round(0)
    shown["support"] = shown["support"].astype(int)
    st.dataframe(shown, width="stretch", column_config={
        c: st.column_config.ProgressColumn(c, min_value=0, max_value=100, format="%d%%")
        for c in ("precision", "recall", "f1")})

# --- One face -------------------------------------------------------------------------------------------
with tab_face:
    pick_class, pick_face = st.columns([1, 2])
    true_class = pick_class.selectbox("True emotion", ev.classes, index=ev.classes.index("happy"),
                                      format_func=display_name, key="explorer_class")
    members = ev.indices_of(ev.classes.index(true_class))
    if not members:
        st.warning(f"The sample set has no {display_name(true_class)} face.")
        st.stop()
    position = pick_face.select_slider(
        "Face", options=list(range(1, len(members) + 1)), key="explorer_face",
        format_func=lambda i: f"{i} ({display_name(ev.classes[ev.y_pred[members[i - 1]]])})",
        help="In brackets: the model's label for that face.")
    idx = members[position - 1]
    thumbs = [cv2.resize(ev.faces[i], (72, 72), interpolation=cv2.INTER_CUBIC) for i in members]
    st.image(thumbs, width=72,
             caption=[f"{n + 1}: {'✓' if ev.y_pred[i] == ev.y_true[i] else display_name(ev.classes[ev.y_pred[i]])}"
                      for n, i in enumerate(members)])

    face = ev.faces[idx]
    x = explorer.model_input(face, SIZE)
    probs = ev.probabilities[idx]
    predicted = ev.classes[int(np.argmax(probs))]
    c1, c2, c3 = st.columns([1, 1, 1.6], gap="large")
    with c1:
        st.markdown("##### The face")
        st.image(cv2.resize(face, (224, 224), interpolation=cv2.INTER_CUBIC), width=224,
                 caption=ev.file_name(idx))
        st.markdown(f"True: {ui.chip(true_class)} Model: {ui.chip(predicted, float(probs.max()))}",
                    unsafe_allow_html=True)
    with c2:
        st.markdown("##### What drives it")
        # The map explains the model's label for this face until the user picks another class for this face;
        # a new face (or model) starts again from its own label.
        this_face = (settings.model, settings.tta, int(idx))
        pick = st.session_state.get(EXPLAIN_PICK)
        st.session_state["explorer_target"] = pick[1] if pick and pick[0] == this_face else predicted

        def remember_pick(face: tuple = this_face) -> None:
            st.session_state[EXPLAIN_PICK] = (face, st.session_state["explorer_target"])

        target = st.selectbox("Explain", ev.classes, format_func=display_name, key="explorer_target",
                              on_change=remember_pick,
                              help="The class whose probability the map explains: the model's label unless you "
                                   "pick another.")
        heat = explorer.saliency_map(settings.model, settings.tta, face, ev.classes.index(target))
        st.image(overlay(face, heat, size=224), width=224,
                 caption="Occlusion map: red = covering this area lowers the score most.")
    with c3:
        st.markdown("##### Probabilities")
        st.plotly_chart(charts.probability_bars(dict(zip(ev.classes, map(float, probs)))), key="explorer_probs",
                        config={"displayModeBar": False}, width="stretch")

    st.markdown("#### Robustness playground")
    st.caption("Change the face and watch the probabilities: the model was trained on centred, upright, evenly lit "
               "faces.")
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
    new_probs = classifier.predict(explorer.model_input(changed, SIZE)[None])[0]
    new_label = ev.classes[int(np.argmax(new_probs))]

    r1, r2, r3 = st.columns([1, 1, 2.2], gap="large")
    with r1:
        st.image(cv2.resize(changed, (224, 224), interpolation=cv2.INTER_CUBIC), width=224, caption="Changed face")
        verdict = "same label" if new_label == predicted else "label changed"
        st.markdown(f"{ui.chip(predicted, float(probs.max()), small=True)} → "
                    f"{ui.chip(new_label, float(new_probs.max()), small=True)} <small>({verdict})</small>",
                    unsafe_allow_html=True)
    with r2:
        if np.array_equal(changed, face) and new_label == target:
            new_heat = heat  # nothing changed: the same map as above, not a coarser one
        else:  # every slider move: a coarser grid (stride 4) keeps it quick, 0.9 s a face for the ensemble
            new_heat = occlusion_saliency(explorer.model_input(changed, SIZE), classifier.predict,
                                          ev.classes.index(new_label), patch=8, stride=4)
        st.image(overlay(changed, new_heat, size=224), width=224,
                 caption=f"What drives {display_name(new_label)} now")
    with r3:
        fig = charts.probability_comparison(ev.classes, probs, new_probs)
        st.plotly_chart(fig, key="explorer_playground", config={"displayModeBar": False}, width="stretch")
        st.caption("Faded bars: the original face. Solid bars: the changed face.")

# --- Model card -----------------------------------------------------------------------------------------
with tab_card:
    facts = pd.DataFrame(
        [("Name", spec.name), ("Title", spec.title), ("Input", f"{spec.input_size}x{spec.input_size} grey, [-1, 1]"),
         ("Face margin", f"{spec.face_margin:.0%} on each side of the detector's box, squared"),
         ("Classes", ", ".join(display_name(c) for c in spec.classes)),
         ("Runtime weights", spec.weights), ("Keras weights", spec.keras_weights or "none"),
         ("Recorded accuracy and cost", spec.summary()),
         ("Accuracy on this sample set", f"{ev.accuracy:.1%} ({len(ev.y_true)} faces)")],
        columns=["", "value"])
    st.markdown("##### At a glance")
    st.dataframe(facts, hide_index=True, width="stretch")
    st.markdown("##### Every model: accuracy and cost")
    st.dataframe(model_comparison(), hide_index=True, width="stretch",
                 column_config={"PublicTest": st.column_config.NumberColumn(format="percent"),
                                "with mirror TTA": st.column_config.NumberColumn(format="percent"),
                                "ms per face": st.column_config.NumberColumn(format="%.2f")})
    st.caption("FER2013 PublicTest (3,589 faces); cost per face: TFLite, batch 1, one CPU thread. Aliases: "
               + "; ".join(f"{alias}: {role}" for alias, role in ALIAS_ROLES.items()) + ".")
    log = spec.directory / "training_log.csv"
    if log.exists():
        from fer_core.training.reports import learning_curves_figure

        st.markdown("##### How it learned")
        history = pd.read_csv(log).to_dict("records")
        fig = learning_curves_figure(history)
        fig.update_layout(height=320, margin={"t": 40, "b": 30, "l": 10, "r": 10}, legend={"orientation": "h", "y": -0.3})
        fig.update_xaxes(tickmode="linear", tick0=1, dtick=max(1, -(-len(history) // 10)), tickformat="d")
        st.plotly_chart(fig, key="explorer_curves", config={"displayModeBar": False}, width="stretch")
        st.caption(f"Loss and accuracy per epoch on the training faces (solid) and the validation faces (dashed), "
                   f"from the model's {log.name}.")
    if spec.metrics:
        with st.expander("Metrics recorded with the model"):
            st.json(spec.metrics, expanded=True)
    with st.container(border=True):
        model_card.show(spec)  # for users (no development history); the full card one click away
