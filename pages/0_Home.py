"""Home page: what the system does, a one-click try, and the way to every page (registered in app.py)."""

from __future__ import annotations

import streamlit as st

from dashboard import files, navigation, resources, ui
from fer_core.detectors import DETECTOR_DESCRIPTIONS
from fer_core.io import load_image

settings = ui.setup_page(
    "Emotion Recognition", ":material/sentiment_satisfied:",
    "Finds the faces in a photo, a video, a network camera or your webcam and tells which of seven emotions each "
    "one shows: angry, disgust, fear, happy, sad, surprise or neutral. Everything runs on this computer, on the CPU.",
)

st.markdown("#### How it works")
steps = st.columns(4)
with steps[0]:
    ui.card("1. Find faces", f"The <b>{settings.detector}</b> detector draws a box around every face "
            f"({DETECTOR_DESCRIPTIONS.get(settings.detector, '')}).")
with steps[1]:
    size = resources.model_spec(settings).input_size
    ui.card("2. Crop", f"Each face is squared with a small margin{', its eyes levelled' if settings.level_eyes else ''}, "
            f"turned grey and resized to {size}x{size} pixels, as in the FER2013 training data.")
with steps[2]:
    ui.card("3. Classify", f"A CNN (<b>{resources.model_spec(settings).title}</b>, chosen in the sidebar) gives a "
            "probability for each of the seven emotions, all faces of a frame in one call.")
with steps[3]:
    ui.card("4. Follow", "In videos, streams and on the webcam, faces are tracked and their probabilities smoothed "
            "so that labels do not flicker.")

st.write("")
st.markdown("#### Try it")
SAMPLE = files.SAMPLES / "photos" / "happy_astronaut.png"
if st.button("Try on a sample photo", type="primary", icon=":material/play_arrow:", key="try_sample"):
    st.session_state["home_tried"] = True
if not st.session_state.get("home_tried"):
    st.caption("One click runs the whole pipeline on a bundled photo of an astronaut. "
               "Or open the **Image** page to use your own photos.")
else:
    from dashboard import image_view  # plotly and pandas only once the try-out is asked for

    try:
        result = image_view.analyze(resources.recognizer(settings), SAMPLE.name, load_image(SAMPLE))
    except Exception as error:  # noqa: BLE001
        ui.show_error(error, "the sample photo")
    else:
        with st.container(border=True):
            image_view.render(result, key="home", compact=True)

st.markdown("#### Pages")
pages = [p for p in navigation.PAGES if p is not navigation.HOME]
for start in range(0, len(pages), 4):
    cols = st.columns(4)
    for col, info in zip(cols, pages[start:start + 4]):
        with col:
            st.page_link(info.path, label=info.title, icon=info.icon)
            st.caption(info.description)

st.markdown("#### In use")
try:
    spec = resources.model_spec(settings)
    c1, c2, c3 = st.columns(3)
    with c1:
        ui.card("Model", f"{spec.title}<br><small>{spec.name}</small>")
    with c2:
        params = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in settings.detector_params.items())
        width = f"on a {settings.detect_width}-pixel-wide copy" if settings.detect_width else "at full size"
        ui.card("Face detector", f"{settings.detector} {width}<br><small>{params}</small>")
    with c3:
        ui.card("Options", f"eyes levelled {'on' if settings.level_eyes else 'off'}, smoothing window "
                f"{settings.smoothing} frames<br><small>mirror test-time augmentation "
                f"{'on' if settings.tta else 'off'}</small>")
except Exception as error:  # noqa: BLE001
    ui.show_error(error, "the model")
st.caption("Change the model, the detector and its parameters, smoothing and test-time augmentation in the "
           "sidebar; every page uses them.")
