"""Image page: upload photos (or pick a sample) and see every face's emotion. The photos chosen (uploads too)
are kept for the session, so a visit to another page comes back to the same results (`dashboard.kept`)."""

from __future__ import annotations

import streamlit as st

from dashboard import files, image_view, kept, resources, ui
from fer_core.io import decode_photo
from fer_core.results import concat_tables

settings = ui.setup_page(
    "Image", ":material/image:",
    "Upload one or more photos, or pick a bundled sample: every face gets a box and a label, and you can see "
    "the crop the model looked at and how sure it is.",
)
ui.legend()

source = st.radio("Source", ["Upload photos", "Sample photo"], horizontal=True, key=kept.remember("image_source"),
                  label_visibility="collapsed")
inputs: list[tuple[str, bytes | None, object]] = []  # (name, data, error)
if source == "Upload photos":
    st.file_uploader(
        f"Photos (JPG, PNG, WebP or BMP, up to {files.upload_limit_mb()} MB each)",
        type=files.IMAGE_TYPES, accept_multiple_files=True, key="image_uploads",
        on_change=kept.upload_changed, args=("image_uploads",),
    )
    for upload_name, upload_data in kept.uploads("image_uploads"):  # after a page switch: the photos kept
        inputs.append((upload_name, upload_data, None))
    if inputs and not st.session_state.get("image_uploads"):
        st.caption(f"Showing the {len(inputs)} photo{'s' if len(inputs) > 1 else ''} uploaded earlier in this "
                   "session; drop others to replace them.")
    if not inputs:
        st.info("Drop one or several photos above, or switch to **Sample photo** to try a bundled one.", icon=":material/upload:")
else:
    samples = files.sample_photos()
    names = list(samples)
    choice = st.selectbox("Sample photo", names,
                          key=kept.remember("image_sample", "happy astronaut" if "happy astronaut" in names else names[0]))
    inputs.append((samples[choice].name, samples[choice].read_bytes(), None))

if inputs:
    try:
        recognizer = resources.recognizer(settings)
    except Exception as error:  # noqa: BLE001 - shown as one sentence
        ui.show_error(error, "the model")
        st.stop()

    results = []
    for index, (name, data, _) in enumerate(inputs):
        with st.container(border=True):
            if len(inputs) > 1:
                st.subheader(name)
            try:
                with st.spinner(f"Reading and analysing {name}..."):
                    photo = decode_photo(data, name=name)  # big photos downscaled once, here
                    result = image_view.analyze(recognizer, name, photo)
            except Exception as error:  # noqa: BLE001 - one message, the other images still work
                ui.show_error(error, name)
                continue
            results.append(result)
            image_view.render(result, key=f"img{index}")

    if len(results) > 1:
        st.markdown("#### All photos")
        st.caption("Every face of every photo in one table to download, the same layout as each photo's.")
        files.download_buttons(concat_tables(r.table for r in results), "all_photos", "all", st.columns(4)[:3])
