"""Choosing the Model Explorer's labelled set: the bundled sample, an uploaded zip of class folders, or a
folder on the server (confined to the allowed roots, `dashboard.server_paths`).

Bad input (a zip without class folders, a folder of non-images, an empty class, a path that does not exist
or is not allowed) gets one sentence, and the set on show stays: the new source replaces it only once its
evaluation has finished.
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from fer_core.settings import Settings

from . import explorer, server_paths, ui

CHOICES = {"sample": ":material/inventory_2: Bundled sample", "zip": ":material/folder_zip: Upload a zip",
           "folder": ":material/dns: Folder on the server"}
ATTEMPTED_ZIP = "explorer_zip_attempted"  # the digest of the last upload tried, so a rerun does not retry it
ERROR_KEY = "explorer_set_error"  # the last bad input's sentence, shown until the next attempt


def _progress_bar() -> tuple[Any, Any]:
    bar = st.progress(0.0, text="Reading the set...")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"Evaluating: {done:,} of {total:,} images")

    return bar, progress


def _try(make_source, settings: Settings) -> None:
    """Build a source and evaluate it; only a finished run replaces the set on show."""
    from fer_core.errors import FerError

    st.session_state.pop(ERROR_KEY, None)
    bar, progress = _progress_bar()
    try:
        source = make_source()
        explorer.evaluate(source, settings, progress=progress)
    except FerError as error:
        st.session_state[ERROR_KEY] = str(error)
        return
    except Exception as error:  # noqa: BLE001 - one sentence, the traceback to the log
        ui.log.exception("explorer set failed", exc_info=error)
        st.session_state[ERROR_KEY] = (f"Something went wrong while reading that set: {type(error).__name__}. "
                                       "The set on show stays.")
        return
    finally:
        bar.empty()
    st.session_state[explorer.SOURCE_KEY] = source
    explorer.clear_selection()
    st.session_state.pop(explorer.FACE_KEY, None)


def choose_set(settings: Settings) -> explorer.SetSource:
    """Draw the set chooser; returns the source on show (a new one once it evaluated without error)."""
    allowed = server_paths.server_paths_allowed()
    options = [k for k in CHOICES if k != "folder" or allowed]
    with st.container(border=True):
        kind = st.segmented_control("Evaluation set", options, default="sample", key="explorer_set_kind",
                                    format_func=CHOICES.get, required=True,
                                    on_change=lambda: st.session_state.pop(ERROR_KEY, None)) or "sample"
        if kind == "sample":
            if st.session_state.get(explorer.SOURCE_KEY, explorer.SAMPLE) != explorer.SAMPLE:
                st.button("Back to the bundled sample", icon=":material/undo:", key="explorer_to_sample",
                          on_click=lambda: (st.session_state.pop(explorer.SOURCE_KEY, None), explorer.clear_selection(),
                                            st.session_state.pop(explorer.FACE_KEY, None)))
            st.caption("50 FER2013 PublicTest faces per class (disgust included), with their FER+ votes.")
        elif kind == "zip":
            upload = st.file_uploader(
                "A zip of class folders", type=["zip"], key="explorer_zip",
                help="Folders named angry, disgust, fear, happy, sad, surprise, neutral (a missing class is "
                     "fine), holding face crops or whole photos; whole photos go through the face detector.")
            if upload is not None:
                data = upload.getvalue()
                digest = hashlib.sha1(data).hexdigest()
                if st.session_state.get(ATTEMPTED_ZIP) != digest:
                    st.session_state[ATTEMPTED_ZIP] = digest
                    _try(lambda: explorer.unpack_zip(data, upload.name), settings)
        else:
            left, right = st.columns([4, 1], vertical_alignment="bottom")
            path = left.text_input("Folder of class folders on the server", key="explorer_folder",
                                   placeholder="data/PublicTest",
                                   help="Allowed under: " + server_paths.describe_roots() + ".")
            if right.button("Evaluate", icon=":material/play_arrow:", key="explorer_folder_go", type="primary",
                            width="stretch", disabled=not path.strip()):
                _try(lambda: explorer.folder_source(path.strip()), settings)
        if st.session_state.get(ERROR_KEY):
            st.error(st.session_state[ERROR_KEY], icon=":material/error:")
    return st.session_state.get(explorer.SOURCE_KEY, explorer.SAMPLE)
