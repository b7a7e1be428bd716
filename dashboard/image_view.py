"""Analyse one still image and show everything about it (used by the Image page and the home page)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.annotate import draw_faces
from fer_core.emotions import display_name

from . import charts, files, ui


@dataclass
class ImageAnalysis:
    name: str
    image: np.ndarray  # BGR
    faces: list = field(default_factory=list)
    crops: np.ndarray | None = None  # (N, S, S, 1) in [-1, 1]
    annotated: np.ndarray | None = None

    def table(self) -> pd.DataFrame:
        return files.faces_table(self.faces, source=self.name)

    def to_json(self) -> dict:
        h, w = self.image.shape[:2]
        return {"image": self.name, "width": int(w), "height": int(h), "faces": [f.to_dict() for f in self.faces]}


def analyze(recognizer, name: str, image: np.ndarray) -> ImageAnalysis:
    faces = recognizer.analyze(image)
    crops = recognizer.crops(image, [f.box for f in faces]) if faces else None
    return ImageAnalysis(name=name, image=image, faces=faces, crops=crops, annotated=draw_faces(image, faces, numbered=len(faces) > 1))


def render(result: ImageAnalysis, key: str, compact: bool = False) -> None:
    """The annotated image, the crops the model saw, a chart per face, the table and downloads."""
    n = len(result.faces)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.image(files.bgr_to_rgb(result.annotated), width="stretch",
                 caption=f"{result.name}: {n} face{'s' if n != 1 else ''} found")
    with right:
        if not n:
            st.warning(
                f"No face was found in {result.name}. Try the YuNet detector or a smaller minimum face size "
                "in the sidebar, or a photo where the face is larger and facing the camera.",
                icon=":material/search_off:")
        else:
            st.markdown("**What the model sees**")
            size = result.crops.shape[1]
            st.caption(f"Each face as the classifier receives it: square, grey, {size}x{size} pixels "
                       "(shown enlarged).")
            per_row = 1 if n == 1 else 3
            for start in range(0, n, per_row):
                cols = st.columns(per_row)
                for j, face in enumerate(result.faces[start:start + per_row]):
                    i = start + j
                    with cols[j]:
                        st.image(files.crop_to_uint8(result.crops[i], 128), width=112)
                        st.markdown(ui.chip(face.label, face.confidence, prefix=f"{i + 1}. ", small=n > 1),
                                    unsafe_allow_html=True)
            if n == 1:
                face = result.faces[0]
                st.plotly_chart(charts.probability_bars(face.probabilities, title="Probabilities", height=250),
                                key=f"{key}_prob_0", config={"displayModeBar": False}, width="stretch")
            elif not compact:
                counts = pd.Series([f.label for f in result.faces]).value_counts()
                st.markdown("**In this photo:** " + ", ".join(f"{display_name(k)} x{v}" for k, v in counts.items()))

    if n > 1:
        st.markdown("##### Probabilities per face")
        per_row = 3
        for start in range(0, n, per_row):
            cols = st.columns(per_row)
            for j, face in enumerate(result.faces[start:start + per_row]):
                i = start + j
                with cols[j]:
                    st.plotly_chart(
                        charts.probability_bars(face.probabilities, title=f"Face {i + 1}: {display_name(face.label)}"),
                        key=f"{key}_prob_{i}", config={"displayModeBar": False}, width="stretch")
    if not compact:
        table = result.table()
        if n:
            st.markdown("##### Results")
            st.dataframe(table, hide_index=True, width="stretch",
                         column_config={"confidence": st.column_config.ProgressColumn(
                             "confidence", min_value=0.0, max_value=1.0, format="%.2f")})
        stem = files.safe_stem(result.name)
        c1, c2, c3, _ = st.columns([1, 1, 1, 1])
        c1.download_button("Annotated image (PNG)", files.png_bytes(result.annotated), f"{stem}_annotated.png",
                           "image/png", key=f"{key}_dl_png", on_click="ignore", width="stretch", icon=":material/image:")
        c2.download_button("Results (CSV)", files.csv_bytes(table), f"{stem}_faces.csv", "text/csv",
                           key=f"{key}_dl_csv", on_click="ignore", width="stretch", icon=":material/table:")
        c3.download_button("Results (JSON)", files.json_bytes(result.to_json()), f"{stem}_faces.json",
                           "application/json", key=f"{key}_dl_json", on_click="ignore", width="stretch", icon=":material/data_object:")
