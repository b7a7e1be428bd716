"""The Model Explorer's views of one evaluation run: confusion matrix, embedding map, calibration, model
against model, slices, likely label errors, downloads.

Each view draws what `fer_core.explore` computes and hands faces to the gallery the same way, through
`explorer.select` (a chart's `on_select` callback, which runs only when the user changes the selection).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.emotions import COLORS_HEX, display_name
from fer_core.explore import EMBED_METHODS
from fer_core.settings import Settings

from . import charts, explorer, ui
from .explorer_hover import hover_pictures

NO_BAR = {"displayModeBar": False}
OUTCOME_COLOURS = {"right": "#2E7D32", "wrong": "#C62828", "no face": "#9AA5B1"}


def _classes(run: Any) -> list[str]:
    from fer_core.emotions import EMOTIONS

    return list(EMOTIONS)


def _points(state_key: str) -> list[dict]:
    state = st.session_state.get(state_key)
    try:
        return list(state.selection.points)  # type: ignore[union-attr]
    except AttributeError:
        return []


# --- confusion matrix ------------------------------------------------------------------------------------

def _cell_selected(table: pd.DataFrame) -> None:
    points = _points("explorer_cm")
    if not points:
        return
    true, predicted = points[0]["customdata"][:2]
    rows = np.flatnonzero((table["true_label"] == true).to_numpy() & (table["predicted"] == predicted).to_numpy()
                          & table["face_found"].to_numpy(dtype=bool))
    explorer.select(f"true {display_name(true)}, predicted {display_name(predicted)}", rows, "confusion")


def confusion_view(run: Any, table: pd.DataFrame) -> None:
    from fer_core import explore

    classes = _classes(run)
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.markdown("##### Confusion matrix")
        matrix = explore.confusion(table)
        st.plotly_chart(charts.confusion_squares(np.asarray(matrix), classes), key="explorer_cm", config=NO_BAR,
                        width="content", on_select=lambda: _cell_selected(table), selection_mode="points")
        st.caption("Rows: the true class; columns: the model's. Click a cell to see its faces in the gallery.")
    with right:
        st.markdown("##### Precision and recall per class")
        per = explore.per_class(table)
        st.plotly_chart(charts.precision_recall_bars(per), key="explorer_pr", config=NO_BAR, width="stretch")
        shown = per[["precision", "recall", "f1", "support"]].copy()
        shown.index = [display_name(c) for c in shown.index]
        st.dataframe(shown, width="stretch", column_config={
            **{c: st.column_config.NumberColumn(c, format="percent") for c in ("precision", "recall")},
            "f1": st.column_config.NumberColumn("F1", format="%.2f")})


# --- embedding map ---------------------------------------------------------------------------------------

METHOD_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
MAP_METHODS = sorted(EMBED_METHODS, key=lambda m: m == "pca")  # t-SNE (the clearer map) first
LARGE_FOR_TSNE = 1500

@st.cache_data(show_spinner="Laying out the faces on a map...", max_entries=8)
def _layout(run_key: tuple, _features: np.ndarray, method: str) -> np.ndarray:
    """The 2-D map of the run's features (cached per run and method: reopening the tab is instant).

    One BLAS/OpenMP thread: on a busy server OpenMP's spinning threads made t-SNE ten times slower (40 s
    against 4 s for 350 faces on two loaded cores)."""
    from threadpoolctl import threadpool_limits

    from fer_core import explore

    with threadpool_limits(1):
        return np.asarray(explore.embed_2d(_features, method=method))


def _map_selected(key: str, label: str) -> None:
    points = _points(key)
    rows = sorted({int(p["customdata"][0]) for p in points if p.get("customdata")})
    if rows:
        explorer.select(f"{len(rows):,} faces chosen on the {label}", rows, "map")


def map_view(run: Any, table: pd.DataFrame, run_key: tuple) -> None:
    left, right = st.columns([1, 1])
    colour = left.segmented_control("Colour by", ["true label", "prediction", "right or wrong"],
                                    default="true label", key="explorer_map_colour", required=True)
    # t-SNE draws the clearer map but takes 15 s to 2 minutes for 3,589 faces on two shared cores: large
    # sets open on PCA (seconds), and t-SNE is one click away.
    large = len(table) > LARGE_FOR_TSNE
    default = "pca" if large else MAP_METHODS[0]
    method = right.segmented_control("Layout", MAP_METHODS, default=default, key=f"explorer_map_method_{large}",
                                     format_func=METHOD_NAMES.get, required=True,
                                     help="t-SNE keeps neighbours together (seconds for hundreds of faces, up to "
                                          "minutes for thousands); PCA is quick and keeps the large-scale directions.")
    try:
        xy = _layout(run_key, run.features, method)
    except Exception as error:  # noqa: BLE001
        ui.show_error(error, "the embedding map")
        return
    found = table["face_found"].to_numpy(dtype=bool)
    if colour == "true label":
        groups = table["true_label"].astype(str).to_numpy()
    elif colour == "prediction":
        groups = np.where(found, table["predicted"].astype(str), "no face")
    else:
        groups = np.where(~found, "no face", np.where(table["correct"].to_numpy(dtype=bool), "right", "wrong"))
    hover = [f"<b>{display_name(str(t))}</b> → {display_name(str(p))} {c:.0%}<br>{f}" for t, p, c, f in
             zip(table["true_label"], table["predicted"], table["confidence"], table["file"])]
    fig = charts.embedding_map(xy, groups, hover, np.arange(len(table)), palette={**COLORS_HEX, **OUTCOME_COLOURS})
    st.plotly_chart(fig, key="explorer_map", width="stretch", selection_mode=("box", "lasso"),
                    on_select=lambda: _map_selected("explorer_map", "map"),
                    config={"displaylogo": False, "scrollZoom": True})
    hover_pictures("explorer_map", run_key, run.crops)
    st.caption(f"Each dot is a face, placed by the model's own penultimate features ({run.features.shape[1]} "
               f"numbers) reduced to 2-D by {METHOD_NAMES[method]}: faces the model sees alike lie "
               f"close. Hover a dot to see the face; draw a lasso or a box to show those faces in the gallery.")


# --- calibration -----------------------------------------------------------------------------------------

CURVE_NAMES = {"raw": "before temperature", "calibrated": "after temperature", "votes": "against FER+ votes"}


def calibration_view(run: Any, table: pd.DataFrame) -> None:
    from fer_core import explore

    report = explore.calibration(table, bins=15)
    if not report.n:
        st.info("No face was found in this set, so there is nothing to calibrate.")
        return
    temperature = float(run.settings.get("temperature", 1.0))
    m = st.columns(4)
    m[0].metric("ECE after", f"{report.ece:.1%}", delta=f"{(report.ece - report.ece_raw) * 100:+.1f} points",
                delta_color="inverse", help="Expected calibration error (15 bins): the mean gap between "
                "confidence and accuracy, weighted by faces. 0 is perfect.")
    m[1].metric("ECE before", f"{report.ece_raw:.1%}", help="The network's raw outputs, before the temperature.")
    m[2].metric("NLL after", f"{report.nll:.3f}", delta=f"{report.nll - report.nll_raw:+.3f}", delta_color="inverse",
                help="Negative log-likelihood of the true labels (lower is better).")
    m[3].metric("NLL before", f"{report.nll_raw:.3f}")
    curves = {CURVE_NAMES.get(v, v): rows for v, rows in report.reliability.groupby("version", sort=False)}
    st.plotly_chart(charts.reliability_diagram(curves), key="explorer_reliability", config=NO_BAR, width="stretch")
    text = (f"A point below the diagonal: the model is more confident than it is right. The model's temperature "
            f"is {temperature:.3g} (1 = none); its probabilities everywhere in the dashboard are the calibrated "
            f"ones. {report.n:,} faces.")
    if report.votes_n:
        text += (f" {report.votes_n:,} faces have FER+ votes (ten taggers each): against them, the “share "
                 f"right” is the mean vote share of the model's answer; ECE {report.ece_votes:.1%}, "
                 f"cross-entropy to the votes {report.cross_entropy_votes:.3f} after the temperature "
                 f"({report.cross_entropy_votes_raw:.3f} before).")
    st.caption(text)


# --- model against model ---------------------------------------------------------------------------------

def _show_disagreements(table: pd.DataFrame, files: list[str], other: str) -> None:
    rows = np.flatnonzero(table["file"].isin(set(files)).to_numpy())
    explorer.select(f"the {len(rows):,} faces where {other} disagrees", rows, "compare")


def compare_view(run: Any, source: explorer.SetSource, settings: Settings) -> None:
    from fer_core import explore
    from fer_core.models import list_models

    names = [s.name for s in list_models() if s.name != run.model]
    other = st.selectbox("Second model", names, key="explorer_compare_model", index=None,
                         placeholder="Choose a model to compare with",
                         help="It runs on the same faces with the same settings (cached like the first).")
    if other is None:
        st.caption(f"Both models run on the same {len(run.table):,} images: agreement, the accuracy of each with "
                   "McNemar's test of the difference, recall per class side by side, and the faces where they "
                   "disagree in the gallery.")
        return
    settings_b = settings.replace(model=other)
    run_b = explorer.cached_run(source, settings_b)
    if run_b is None:
        bar = st.progress(0.0, text=f"Evaluating {other}...")
        try:
            run_b = explorer.evaluate(source, settings_b, progress=lambda d, t: bar.progress(
                min(1.0, d / max(t, 1)), text=f"Evaluating {other}: {d:,} of {t:,} images"))
        except Exception as error:  # noqa: BLE001
            ui.show_error(error, other)
            return
        finally:
            bar.empty()
    table_a = explorer.table_of(run)
    result = explore.compare(table_a, explorer.table_of(run_b), run.model, other)
    m = st.columns(4)
    m[0].metric("Agreement", f"{result.agreement:.1%}", help="Faces both models give the same label.")
    m[1].metric("Accuracy, this model", f"{result.accuracy_a:.1%}", help=run.model)
    m[2].metric("Accuracy, the second", f"{result.accuracy_b:.1%}", help=other,
                delta=f"{(result.accuracy_b - result.accuracy_a) * 100:+.1f} points")
    m[3].metric("McNemar p", f"{result.mcnemar_p:.3g}",
                help=f"Only {run.model} right: {result.only_a_right}; only {other} right: {result.only_b_right}. "
                     "A small p (below 0.05): the difference in accuracy is unlikely to be chance on these faces.")
    verdict = ("a real difference" if result.mcnemar_p < 0.05 else "no difference beyond chance")
    st.caption(f"{result.n:,} faces both evaluated. {result.only_a_right} only {run.model} got right, "
               f"{result.only_b_right} only {other}: McNemar's test says {verdict} (p = {result.mcnemar_p:.3g}).")
    recalls = result.per_class.rename(columns={"recall_a": run.model, "recall_b": other})
    st.plotly_chart(charts.recall_side_by_side(recalls, [run.model, other]), key="explorer_compare_recall",
                    config=NO_BAR, width="stretch")
    files = list(result.disagreements["file"])
    st.button(f"Show the {len(files):,} faces where they disagree in the gallery", icon=":material/photo_library:",
              key="explorer_compare_show", disabled=not files, on_click=_show_disagreements,
              args=(table_a, files, other))


# --- slices ----------------------------------------------------------------------------------------------

SLICE_BY = ("face_px", "brightness", "contrast", "blur", "yaw", "roll", "detector_score", "set", "true_label")


@st.cache_data(show_spinner=False, max_entries=8)
def _slices(run_key: tuple, _table: pd.DataFrame) -> pd.DataFrame:
    from fer_core import explore

    faces = _table[_table["face_found"]]
    by = [c for c in SLICE_BY if c in faces and faces[c].nunique(dropna=True) > 1]
    frame = explore.slices(_table, by=by)
    frame["label"] = [_slice_label(b, s) for b, s in zip(frame["by"], frame["slice"])]
    return frame


def _slice_label(by: str, name: str) -> str:
    from fer_core.explore import SLICE_FACTS

    if by == "true_label":
        return f"true {display_name(name.split(' = ', 1)[-1])}"
    if by == "set":
        return f"set {name.split(' = ', 1)[-1]}"
    return f"{SLICE_FACTS.get(by, by)} {name.split(' ', 1)[-1]}"


def _slice_rows(table: pd.DataFrame, by: str, name: str) -> tuple[int, ...]:
    from fer_core import explore

    return tuple(int(i) for i in np.flatnonzero(explore.slice_mask(table, by, name).to_numpy()))


@st.cache_data(show_spinner=False, max_entries=8)
def slice_options(_table: pd.DataFrame, run_key: tuple) -> dict[str, tuple[int, ...]]:
    """Every slice by name, with its faces: the gallery's slice filter (cached per run)."""
    table = _table
    frame = _slices(run_key, table)
    return {label: _slice_rows(table, by, name) for label, by, name in zip(frame["label"], frame["by"], frame["slice"])}


def _slice_clicked(table: pd.DataFrame, frame: pd.DataFrame) -> None:
    points = _points("explorer_slices")
    if not points:
        return
    row = frame.iloc[int(points[0]["customdata"][0])]
    explorer.select(f"the slice {row['label']}", _slice_rows(table, row["by"], row["slice"]), "slices")


def slices_view(table: pd.DataFrame, run_key: tuple) -> None:
    frame = _slices(run_key, table)
    if frame.empty:
        st.info("No slices: no face was found in this set.")
        return
    overall = float(table.loc[table["face_found"], "correct"].mean())
    left, right = st.columns([1, 1.15], gap="medium")
    with left:
        shown = frame.head(20)
        st.plotly_chart(charts.slice_intervals(shown, overall), key="explorer_slices", config=NO_BAR, width="stretch",
                        on_select=lambda: _slice_clicked(table, shown), selection_mode="points")
        st.caption(f"The 20 worst slices by the top of their 95 % interval (Wilson), against {overall:.1%} on the "
                   "whole set. Click a slice to see its faces in the gallery. Facts are cut into quarters; pose "
                   "exists only where the detector ran.")
    with right:
        st.dataframe(frame[["label", "n", "accuracy", "low", "high"]], hide_index=True, width="stretch",
                     height=min(640, 36 * len(frame) + 40), column_config={
                         "label": st.column_config.TextColumn("slice"),
                         "n": st.column_config.NumberColumn("faces"),
                         "accuracy": st.column_config.ProgressColumn("accuracy", min_value=0, max_value=1,
                                                                     format="percent"),
                         "low": st.column_config.NumberColumn("95 % low", format="percent"),
                         "high": st.column_config.NumberColumn("95 % high", format="percent")})


# --- likely label errors ---------------------------------------------------------------------------------

def label_errors_view(table: pd.DataFrame, source: explorer.SetSource) -> None:
    from fer_core import explore

    errors = explore.likely_label_errors(table)
    if errors.empty:
        st.info("No face is both wrong and confidently so (at least 50 %): no likely label errors here.")
        return
    crowd = int(errors["crowd_disagrees"].sum())
    st.markdown(f"**{len(errors):,}** faces the model is confidently wrong about (at least 50 %), most suspicious "
                "first" + (f"; for **{crowd:,}** of them the FER+ taggers, too, chose the model's answer over the "
                           "FER2013 label." if crowd else "."))
    shown = errors[["file", "true_label", "predicted", "confidence", "score", "votes_for_label",
                    "votes_for_predicted", "crowd_disagrees"]].copy()
    st.dataframe(shown, hide_index=True, width="stretch", height=320, column_config={
        "true_label": st.column_config.TextColumn("label"),
        "confidence": st.column_config.NumberColumn(format="percent"),
        "score": st.column_config.NumberColumn("margin", format="%.2f",
                                               help="Probability of the answer minus that of the label."),
        "votes_for_label": st.column_config.NumberColumn("votes for label", format="percent"),
        "votes_for_predicted": st.column_config.NumberColumn("votes for answer", format="percent"),
        "crowd_disagrees": st.column_config.CheckboxColumn("taggers side with the model")})
    a, b = st.columns(2)
    a.button("Show them in the gallery, most suspicious first", icon=":material/photo_library:",
             key="explorer_errors_show", on_click=explorer.select,
             args=("likely label errors (most suspicious first)", errors.index.to_numpy(), "errors"),
             kwargs={"ranked": True}, width="stretch")
    b.download_button("Download the list (CSV)", errors.to_csv(index=False).encode(),
                      f"{_stem(source)}_likely_label_errors.csv", "text/csv", key="explorer_errors_csv",
                      icon=":material/download:", on_click="ignore", width="stretch")


# --- the set at a glance, downloads ----------------------------------------------------------------------

def summary(run: Any, table: pd.DataFrame, source: explorer.SetSource, spec: Any) -> None:
    """Headline figures of the run, and the table as CSV and Parquet."""
    found = table["face_found"].to_numpy(dtype=bool)
    faces = table[found]
    accuracy = float(faces["correct"].mean()) if len(faces) else float("nan")
    per_class = faces.groupby("true_label")["correct"].mean()
    m = st.columns([1, 1, 1, 1, 1.3])
    m[0].metric("Accuracy", f"{accuracy:.1%}", help="Share of the faces whose top label is the set's label.")
    m[1].metric("Faces", f"{len(faces):,}", help="Images in which a face was found (every one, for crops).")
    m[2].metric("No face found", f"{int((~found).sum()):,}",
                help="Whole photos in which the detector found no face: listed in the gallery, left out of "
                     "every figure.")
    m[3].metric("Mean recall", f"{per_class.mean():.1%}" if len(per_class) else "-",
                help="The mean of the per-class recalls: not flattered by a class with many faces.")
    with m[4]:
        csv, parquet = st.columns(2)
        # Callables: the files are made when a button is clicked, not on every rerun (3,589 rows: 0.2 s each).
        csv.download_button("CSV", lambda: table.to_csv(index=False).encode(), f"{_stem(source)}_{spec.name}.csv",
                            "text/csv", key="explorer_dl_csv", icon=":material/table:", on_click="ignore",
                            width="stretch", help="The evaluation table: one row per image.")
        parquet.download_button("Parquet", lambda: _parquet(table), f"{_stem(source)}_{spec.name}.parquet",
                                "application/vnd.apache.parquet", key="explorer_dl_parquet",
                                icon=":material/database:", on_click="ignore", width="stretch")
    tta = " with mirror test-time augmentation" if getattr(run, "settings", {}).get("tta") else ""
    st.caption(f"**{spec.name}**{tta} on **{source.name}** ({len(table):,} images). Probabilities are "
               f"calibrated with the model's temperature ({spec.temperature:.3g}).")


def _stem(source: explorer.SetSource) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in source.name)[:40] or "set"


def _parquet(table: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()
