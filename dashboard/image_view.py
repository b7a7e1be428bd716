"""Analyse one still image and show everything about it (used by the Image page and the home page).

Everything shown comes from the results table of the photo (`fer_core.results.faces_table`): the chips,
the per-face charts, the table and the downloads. Only the annotated picture and the crops "as the model
sees them" need the image itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from fer_core.annotate import draw_faces
from fer_core.emotions import EMOTIONS, display_name
from fer_core.io import Photo

from . import charts, files, ui

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ImageAnalysis:
    name: str
    table: "pd.DataFrame"  # the results table: one row per face, in reading order, boxes in the photo's pixels
    crops: np.ndarray | None  # (N, S, S, 1) in [-1, 1]: what the model saw
    annotated: np.ndarray  # BGR, at most PHOTO_MAX_SIDE on its long side
    size: tuple[int, int]  # the photo's own (width, height)


def analyze(recognizer: Any, name: str, photo: Photo | np.ndarray) -> ImageAnalysis:
    """Find and classify the faces; the results table, the model's crops and the annotated picture.

    `photo` comes from `fer_core.io.decode_photo`: a big photo was downscaled once, at decode, and is
    analysed and shown at that size; the table's boxes are mapped back to the photo's own pixels.
    """
    from fer_core.provenance import provenance, stamp
    from fer_core.results import faces_table, scale_faces

    if not isinstance(photo, Photo):
        photo = Photo(photo, photo.shape[1], photo.shape[0])
    image = photo.image
    faces = recognizer.analyze(image)
    crops = recognizer.crops(image, [f.box for f in faces]) if faces else None
    table = stamp(faces_table(scale_faces(faces, photo.scale), source=name), provenance(recognizer))  # what made it
    return ImageAnalysis(name=name, table=table, crops=crops,
                         annotated=draw_faces(image, faces, numbered=len(faces) > 1), size=(photo.width, photo.height))


def display_table(table: "pd.DataFrame") -> "pd.DataFrame":
    """The table as the page shows it: the face, its label and probability, the seven probabilities.

    What fits a card: the box, the detector's own score (not comparable between detectors: YuNet's is a
    confidence, Haar's a count of overlapping windows) and the rest of the results table's columns are in
    the downloads.
    """
    shown = table[["face_id", "smoothed_label"]].copy()
    shown["confidence"] = (table[list(EMOTIONS)].max(axis=1) * 100).round(0)
    for e in EMOTIONS:
        shown[display_name(e)] = (table[e] * 100).round(0)
    shown["smoothed_label"] = shown["smoothed_label"].map(display_name)
    return shown.rename(columns={"face_id": "face", "smoothed_label": "label"})


DISPLAY_COLUMNS = {
    "face": st.column_config.NumberColumn("face", width="small", help="The face's number on the picture."),
    "label": st.column_config.TextColumn("label", width="small"),
    "confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=100, format="%.0f%%",
                                                  width="small", help="The label's probability."),
    **{display_name(e): st.column_config.NumberColumn(display_name(e), format="%.0f%%", width="small")
       for e in EMOTIONS},
}


def render(result: ImageAnalysis, key: str, compact: bool = False) -> None:
    """The annotated image, the crops the model saw, a chart per face, the table and downloads."""
    table = result.table
    n = len(table)
    left, right = st.columns([3, 2], gap="large")
    with left:
        shown_h, shown_w = result.annotated.shape[:2]
        resized = "" if (shown_w, shown_h) == result.size else (
            f" (a {result.size[0]}x{result.size[1]} photo, analysed and shown at {shown_w}x{shown_h})")
        st.image(files.bgr_to_rgb(result.annotated), width="stretch",
                 caption=f"{result.name}: {n} face{'s' if n != 1 else ''} found{resized}")
    with right:
        if not n:
            st.warning(
                f"No face was found in {result.name}. Try a lower confidence threshold or a smaller minimum face "
                "size in the sidebar, or a photo where the face is larger and facing the camera.",
                icon=":material/search_off:")
        else:
            st.markdown("**What the model sees**")
            size = result.crops.shape[1]
            st.caption(f"Each face as the classifier receives it: square, grey, {size}x{size} pixels "
                       "(shown enlarged).")
            per_row = 1 if n == 1 else 3
            rows = list(table.itertuples(index=False))
            for start in range(0, n, per_row):
                cols = st.columns(per_row)
                for j, row in enumerate(rows[start:start + per_row]):
                    i = start + j
                    with cols[j]:
                        st.image(files.model_view(result.crops[i], 128), width=112)
                        st.markdown(ui.chip(row.smoothed_label, getattr(row, row.smoothed_label),
                                            prefix=f"{row.face_id}. ", small=n > 1), unsafe_allow_html=True)
            if n == 1:
                st.plotly_chart(charts.probability_bars(table.iloc[0][list(EMOTIONS)].to_dict(), title="Probabilities",
                                                        height=250),
                                key=f"{key}_prob_0", config={"displayModeBar": False}, width="stretch")
            elif not compact:
                counts = table["smoothed_label"].value_counts()
                st.markdown("**In this photo:** " + ", ".join(f"{display_name(k)} x{v}" for k, v in counts.items()))

    if n > 1:
        st.markdown("##### Probabilities per face")
        per_row = 3
        rows = list(table.iterrows())
        for start in range(0, n, per_row):
            cols = st.columns(per_row)
            for j, (_, row) in enumerate(rows[start:start + per_row]):
                with cols[j]:
                    st.plotly_chart(
                        charts.probability_bars(row[list(EMOTIONS)].to_dict(),
                                                title=f"Face {row.face_id}: {display_name(row.smoothed_label)}"),
                        key=f"{key}_prob_{start + j}", config={"displayModeBar": False}, width="stretch")
    if compact:
        files.made_by(table)
    else:
        if n:
            st.markdown("##### Results")
            st.dataframe(display_table(table), hide_index=True, width="stretch", column_config=DISPLAY_COLUMNS)
            st.caption("Each face's probabilities. The downloads hold the full results table: the face boxes in "
                       "the photo's pixels and the detector's score as well.")
        stem = files.safe_stem(result.name)
        c1, c2, c3, c4 = st.columns(4)
        c1.download_button("Annotated image (PNG)", files.png_bytes(result.annotated), f"{stem}_annotated.png",
                           "image/png", key=f"{key}_dl_png", on_click="ignore", width="stretch", icon=":material/image:")
        files.download_buttons(table, stem, key, [c2, c3, c4])
