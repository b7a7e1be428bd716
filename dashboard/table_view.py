"""A results table from a file, on the Batch page: the command line's `--results` (a folder run, a camera
watched for hours, its CSV perhaps still growing), or a table downloaded from a page.

Why here: the command line is how long and unattended runs are made, and their results deserve the same
figures as the dashboard's own runs. Everything is derived from the table (`fer_core.results`): the faces
per source with `summarize`, the mix with `summarize(by=())`, each face's emotions over time with
`charts.emotion_timeline` (which draws long timelines from spans of time).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import streamlit as st

from dashboard import charts, ui
from fer_core.emotions import EMOTIONS, display_name
from fer_core.provenance import describe, of_table
from fer_core.results import EXPORT_FORMATS, counted, read_table, shares, summarize

if TYPE_CHECKING:
    import pandas as pd
    from streamlit.runtime.uploaded_file_manager import UploadedFile

TABLE_TYPES = list(EXPORT_FORMATS)  # what the uploader accepts: what `read_table` reads


@st.cache_data(show_spinner="Reading the table...", max_entries=4)
def read(data: bytes, name: str) -> "pd.DataFrame":
    """The table in the file (cached by its bytes: a rerun of the page does not parse it again)."""
    return read_table(data, name)


def show(table: "pd.DataFrame", name: str) -> None:
    """What the table holds: figures, the emotion mix, every face's summary and its emotions over time."""
    st.divider()
    st.subheader(f"Results: {name}")
    made_by = of_table(table)
    st.caption(describe(made_by) if made_by else "This file does not say what made it (it was written before "
               "results files said so, or by another tool).")
    if made_by:
        with st.expander("What made these results", icon=":material/info:"):
            st.json(made_by, expanded=True)
    faces = counted(table)  # brief false detections (short_track) left out, as everywhere else
    per_face = summarize(table)
    timed = table[table["time"].notna()]
    m = st.columns(4)
    m[0].metric("Sources", table["source"].nunique(), help="Photos, videos and streams with a face in the table. A file "
                "in which no face was found leaves no row, so it is not counted here (the command line's last line "
                "counts every file it analysed).")
    m[1].metric("Faces", len(per_face), help="Faces in photos, and faces followed in videos and streams "
                "(tracks too short to count as a face are left out).")
    m[2].metric("Rows", f"{len(table):,}", help="One per face per analysed frame.")
    span = float((timed.groupby("source")["time"].agg(lambda t: t.max() - t.min())).sum()) if len(timed) else None
    m[3].metric("Video time with faces", _duration(span) if span is not None else "–",
                help="From each video's or stream's first row to its last, added up.")
    if not len(faces):
        st.info("No face counts in this table.", icon=":material/search_off:")
        return
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown("##### Emotion mix")
        st.plotly_chart(charts.share_of_time(shares(summarize(table, by=()).iloc[0])), key="table_mix",
                        config={"displayModeBar": False}, width="stretch")
        st.caption("Share of all face-frames (every face in every analysed frame) per emotion.")
    with right:
        st.markdown("##### Faces")
        view = per_face[["source", "face_id", "first_seen", "last_seen", "frames", "dominant",
                         *[f"share_{e}" for e in EMOTIONS]]].copy()
        view["dominant"] = view["dominant"].map(display_name)
        for e in EMOTIONS:
            view[f"share_{e}"] = (view[f"share_{e}"].astype(float) * 100).round(0)
        st.dataframe(view, hide_index=True, width="stretch", key="table_faces", column_config={
            "face_id": st.column_config.NumberColumn("face", format="%d"),
            "first_seen": st.column_config.NumberColumn("from (s)", format="%.1f"),
            "last_seen": st.column_config.NumberColumn("to (s)", format="%.1f"),
            **{f"share_{e}": st.column_config.ProgressColumn(display_name(e), min_value=0, max_value=100,
                                                              format="%d%%") for e in EMOTIONS},
        })
    _timeline(faces)


def _timeline(faces: "pd.DataFrame") -> None:
    timed = faces[faces["time"].notna()]
    sources = list(dict.fromkeys(timed["source"]))
    if not sources:  # photos only: no time to chart
        return
    st.markdown("##### Emotion over time")
    # The latest source first chosen: in a followed file, the camera that is still being written.
    source = (st.selectbox("Video or stream", sources, index=len(sources) - 1, key="table_source")
              if len(sources) > 1 else sources[0])
    rows = timed[timed["source"] == source]
    ui.face_timelines(rows, "table_tl")
    clocks = rows["clock"].dropna()
    when = f" (on the clock: {_clock(clocks.min())} to {_clock(clocks.max())} UTC)" if len(clocks) else ""
    st.caption(f"{source}. Lines: the model's probabilities; band: the label shown, smoothed over the face's "
               f"recent frames. Times count from the start of the video or stream{when}.")


def _clock(iso: str) -> str:
    """2026-11-27T05:46:32.125Z as 2026-11-27 05:46:32."""
    return str(iso).replace("T", " ").split(".")[0].rstrip("Z")


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


FOLLOW_SECONDS = 10
"""How often a followed file is looked at again (read again only when it has changed)."""


def open_table(upload: "UploadedFile | None", path: str, follow: bool) -> None:
    """The Batch page's "Open a results table": an uploaded file, or a file on this computer, which can be
    followed while the command line writes it (a camera's `--results door.csv`); or say why not."""
    if upload is not None:
        if path:
            st.caption("The uploaded file is shown; remove it to open the path instead.")
        _read_and_show(lambda: read(upload.getvalue(), upload.name), upload.name)
    elif path:
        (_follow if follow else _show_path)(path)
    else:
        st.caption("A `.csv`, `.json` or `.parquet` results table: what `python emotion_recognition.py ... --results "
                   "FILE` writes (a folder run, a camera stream), or a table downloaded from a page.")


@st.cache_data(show_spinner="Reading the table...", max_entries=4)
def _read_path(path: str, changed: tuple[int, int]) -> "pd.DataFrame":
    """The file's table, read again only when its time or size (`changed`) has changed."""
    return read_table(Path(path).read_bytes(), Path(path).name)


def _show_path(path: str) -> None:
    file = Path(path).expanduser()
    if not file.is_file():
        st.error(f"{file} is not a file on this computer." if not file.exists() else f"{file} is a folder: open it "
                 "as a results folder, or give a table's file.", icon=":material/error:")
        return
    stat = file.stat()
    if _read_and_show(lambda: _read_path(str(file), (stat.st_mtime_ns, stat.st_size)), file.name):
        st.caption(f"Read from {file} as it was at {time.strftime('%H:%M:%S', time.localtime(stat.st_mtime))}.")


def _read_and_show(read_it: Callable[[], "pd.DataFrame"], name: str) -> bool:
    """Show the table `read_it()` gives, or say in one sentence why it could not be read."""
    try:
        table = read_it()
    except Exception as error:  # noqa: BLE001 - a FerError is one sentence; anything else one too
        ui.show_error(error, name)
        return False
    show(table, name)
    return True


@st.fragment(run_every=FOLLOW_SECONDS)
def _follow(path: str) -> None:
    """`_show_path` again every FOLLOW_SECONDS, without rerunning the rest of the page."""
    _show_path(path)
