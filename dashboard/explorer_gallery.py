"""The Model Explorer's gallery: the faces of the evaluation table, filtered, sorted and paged.

Why a fragment: a filter or page change reruns only the gallery (48 thumbnails), not the charts above it,
so 3,589 faces stay responsive. What it shows is the table under the view's selection (`explorer.Selection`,
set by any view) and under its own filters; it says which selection it shows, with a button to clear it.
Clicking a face's label opens it up close (`explorer_closeup`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.emotions import EMOTIONS, display_name

from . import explorer
from .explorer_closeup import close_up

PAGE_SIZE = 48
COLUMNS = 8
SORTS = {
    "most confident mistakes": "Mistakes first, the most confident first: where the model is surest and wrong.",
    "least confident": "The faces the model is least sure about first.",
    "file": "By file name, as the set lists them.",
}
OUTCOMES = ["all", "right", "wrong", "no face found"]
_CSS = """<style>
  [class*="st-key-explorer_tile_"] {padding: 0.45rem 0.35rem 0.2rem 0.35rem;}
  [class*="st-key-explorer_tile_"] button p {font-size: 0.82rem; white-space: nowrap;}
  [class*="st-key-explorer_tile_"] img {border-radius: 6px;}
</style>"""
"""Tiles a little tighter than Streamlit's bordered containers: "✗ Surprise 93%" fits on one line."""


@dataclass(frozen=True)
class GalleryFilter:
    """The gallery's own filters (the widgets' values), applied after the view's selection."""

    true: tuple[str, ...] = ()
    predicted: tuple[str, ...] = ()
    outcome: str = "all"
    confidence: tuple[float, float] = (0.0, 1.0)
    slice_rows: tuple[int, ...] | None = None
    sort: str = "most confident mistakes"


def filter_rows(table: pd.DataFrame, chosen: explorer.Selection | None, f: GalleryFilter) -> np.ndarray:
    """Positions of the faces the gallery shows, in its order. A pure function of the table: the AppTests
    and the benchmark time it as the page does."""
    n = len(table)
    keep = chosen.mask(n) if chosen is not None else np.ones(n, dtype=bool)
    found = table["face_found"].to_numpy(dtype=bool) if "face_found" in table else np.ones(n, dtype=bool)
    if f.true:
        keep &= table["true_label"].isin(f.true).to_numpy()
    if f.predicted:
        keep &= table["predicted"].isin(f.predicted).to_numpy() & found
    correct = table["correct"].to_numpy(dtype=bool)
    if f.outcome == "right":
        keep &= correct & found
    elif f.outcome == "wrong":
        keep &= ~correct & found
    elif f.outcome == "no face found":
        keep &= ~found
    lo, hi = f.confidence
    if (lo, hi) != (0.0, 1.0):
        conf = table["confidence"].to_numpy(dtype=float)
        keep &= (conf >= lo) & (conf <= hi) & found
    if f.slice_rows is not None:
        keep &= np.isin(np.arange(n), f.slice_rows)
    rows = np.flatnonzero(keep)
    if chosen is not None and chosen.order and f.sort == "most confident mistakes":
        ranked = np.asarray(chosen.order)  # a ranked selection (likely label errors) keeps its ranking
        return ranked[keep[ranked]]
    conf = table["confidence"].to_numpy(dtype=float)[rows]
    if f.sort == "least confident":
        order = np.lexsort((conf, ~found[rows]))
    elif f.sort == "file":
        order = np.argsort(table["file"].to_numpy()[rows].astype(str), kind="stable")
    else:  # mistakes first (most confident first), then right faces (most confident first), then no face
        wrong = ~correct[rows] & found[rows]
        order = np.lexsort((-conf, ~found[rows], ~wrong))
    return rows[order]


def _face_label(row: pd.Series) -> str:
    if "face_found" in row and not bool(row["face_found"]):
        return "no face"
    mark, colour = ("✓", "green") if bool(row["correct"]) else ("✗", "red")
    return f":{colour}[{mark} {display_name(str(row['predicted']))} {float(row['confidence']):.0%}]"


def _open(row: int) -> None:
    st.session_state[explorer.FACE_KEY] = int(row)


def _filters(table: pd.DataFrame, classes: list[str], slice_options: dict[str, tuple[int, ...]]) -> GalleryFilter:
    c1, c2, c3, c4 = st.columns([1.2, 1.2, 1.3, 1.1])
    true = c1.multiselect("True class", classes, format_func=display_name, key="explorer_f_true",
                          placeholder="every class")
    predicted = c2.multiselect("Predicted class", classes, format_func=display_name, key="explorer_f_pred",
                               placeholder="every class")
    outcomes = OUTCOMES if "face_found" in table and not table["face_found"].all() else OUTCOMES[:3]
    outcome = c3.segmented_control("Right or wrong", outcomes, default="all", key="explorer_f_outcome",
                                   format_func=str.capitalize) or "all"
    sort = c4.selectbox("Sort", list(SORTS), key="explorer_f_sort", format_func=str.capitalize,
                        help=" ".join(SORTS.values()))
    c5, c6 = st.columns([1.2, 2.4])
    confidence = c5.slider("Confidence", 0.0, 1.0, (0.0, 1.0), 0.05, key="explorer_f_conf",
                           help="The model's top probability (calibrated).")
    slice_name = c6.selectbox("Slice", ["every face", *slice_options], key="explorer_f_slice",
                              help="Faces that share a fact: size, brightness, contrast, blur, pose, set.")
    return GalleryFilter(tuple(true), tuple(predicted), outcome, tuple(confidence),  # type: ignore[arg-type]
                         slice_options.get(slice_name) if slice_name != "every face" else None, sort)


def _banner(chosen: explorer.Selection | None, shown: int, total: int) -> None:
    left, right = st.columns([5, 1], vertical_alignment="center")
    if chosen is None:
        left.markdown(f"**{shown:,}** of {total:,} faces.")
        return
    after = f", {shown:,} under the filters" if shown != len(chosen.rows) else ""
    left.markdown(f":material/filter_alt: Showing **{chosen.label}** ({len(chosen.rows):,} faces{after}).")
    right.button("Clear", icon=":material/filter_alt_off:", key="explorer_clear", on_click=explorer.clear_selection,
                 width="stretch", help="Show every face again.")


@st.fragment
def gallery(run: Any, slice_options: dict[str, tuple[int, ...]]) -> None:
    """The gallery of `run`'s faces under the current selection and filters, one page at a time."""
    st.html(_CSS)
    table = explorer.table_of(run)
    classes = list(EMOTIONS)
    chosen = explorer.selection()
    f = _filters(table, classes, slice_options)
    rows = filter_rows(table, chosen, f)
    _banner(chosen, len(rows), len(table))
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    if st.session_state.get("explorer_page", 1) > pages:
        st.session_state["explorer_page"] = 1
    if not len(rows):
        st.info("No face matches these filters.", icon=":material/filter_alt_off:")
    shown = rows[(st.session_state.get("explorer_page", 1) - 1) * PAGE_SIZE:][:PAGE_SIZE]
    for start in range(0, len(shown), COLUMNS):
        cols = st.columns(COLUMNS, gap="small")
        for col, row in zip(cols, shown[start:start + COLUMNS]):
            r = table.iloc[int(row)]
            with col.container(border=True, gap="small", key=f"explorer_tile_{row}"):
                st.image(explorer.thumbnail(run, int(row), bool(r["face_found"])), width="stretch")
                st.button(_face_label(r), key=f"explorer_open_{row}", type="tertiary", on_click=_open,
                          args=(int(row),), width="stretch")
                st.caption(f"true {display_name(str(r['true_label']))}")
    if pages > 1:
        st.pagination(pages, key="explorer_page", max_visible_pages=9)
    face = st.session_state.get(explorer.FACE_KEY)
    if face is not None and 0 <= int(face) < len(table):
        close_up(run, int(face))
