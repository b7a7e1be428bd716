"""Batch page: open the results of a batch job, or run a small batch here on a local Dask cluster."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard import batch_view, files, table_view, ui
from fer_core.errors import FerError

settings = ui.setup_page(
    "Batch", ":material/folder_copy:",
    "Whole archives of photos and videos, analysed on a Dask cluster: open the results of a batch job "
    "(python -m fer_core.batch) or a results table from the command line, or run a small batch here.",
)
ui.legend()

FOLDER_KEY = "batch_folder"

MODES = ["Open a results folder", "Open a results table", "Run a batch"]
mode = st.radio("Mode", MODES, horizontal=True, key="batch_mode", label_visibility="collapsed")
root = batch_view.batch_root()

if mode == MODES[0]:
    found = batch_view.result_folders(root)
    shown = st.session_state.get(FOLDER_KEY)
    if shown in map(str, found) and not st.session_state.get("batch_path"):
        st.session_state["batch_found"] = shown  # the menu names the folder on show (a batch just run here)
    c1, c2 = st.columns([2, 3])
    choice = c1.selectbox(f"Results in {root}", [str(p) for p in found], index=None, key="batch_found",
                          placeholder="pick a results folder" if found else "none yet",
                          format_func=lambda p: Path(p).name)
    typed = c2.text_input("Or a results folder's path", key="batch_path",
                          placeholder="e.g. /data/interviews_results (the --out of a batch job)")
    wanted = typed.strip() or choice
    if wanted:
        st.session_state[FOLDER_KEY] = str(Path(wanted).expanduser())
    else:  # both cleared: nothing on show (not the folder, or the error, from before)
        st.session_state.pop(FOLDER_KEY, None)
elif mode == MODES[1]:
    c1, c2 = st.columns([3, 2])
    upload = c1.file_uploader(f"Results table (CSV, JSON or Parquet, up to {files.upload_limit_mb()} MB)",
                              type=table_view.TABLE_TYPES, key="batch_table")
    path = c2.text_input("Or a results table's path on this computer", key="batch_table_path",
                         placeholder="e.g. /data/door.csv (a camera's --results)").strip()
    follow = c2.toggle(f"Follow it: look again every {table_view.FOLLOW_SECONDS} s", key="batch_table_follow",
                       disabled=not path or upload is not None,
                       help="For a table the command line is still writing, such as a camera's growing CSV.")
    table_view.open_table(upload, path, follow)
else:
    samples = {**files.sample_photos(), **files.sample_videos()}
    c1, c2 = st.columns([3, 2])
    chosen = c1.multiselect("Bundled samples", list(samples), key="batch_samples",
                            default=["happy posed", "unlabelled multi face", "single face", "face noface", "no face"])
    uploads = c1.file_uploader(f"And/or your photos and videos (up to {files.upload_limit_mb()} MB each)",
                               type=files.IMAGE_TYPES + files.VIDEO_TYPES, accept_multiple_files=True,
                               key="batch_uploads")
    if st.session_state.pop("batch_fresh_name", False) or not st.session_state.get("batch_name"):
        st.session_state["batch_name"] = batch_view.new_run_name()  # set before the widget is drawn
    name = c2.text_input("Results folder", key="batch_name",
                         help=f"Written under {root}. Running again into the same folder skips what is finished.")
    cores = os.cpu_count() or 1
    workers = c2.number_input("Local workers", min_value=1, max_value=max(cores, 1), value=min(2, cores), step=1,
                              key="batch_workers", help="Worker processes of the local Dask cluster; each loads "
                              "the detector and the model once.")
    chunk = c2.number_input("Video chunk (s)", min_value=1.0, max_value=600.0, value=20.0, step=1.0,
                            key="batch_chunk", help="Videos are cut at keyframes into chunks of at least this "
                            "length, which run on any worker and are put back in time order.")
    inputs = [samples[n] for n in chosen]
    data = [(u.name, u.getvalue()) for u in uploads or []]
    go = c2.button("Run batch", type="primary", icon=":material/play_arrow:", key="batch_go",
                   disabled=not inputs and not data)
    if go:
        out = root / batch_view.clean_run_name(name)
        stop_slot = st.empty()
        # Pressing Stop reruns the page, which stops the job at its next progress update; what finished stays.
        stop_slot.button("Stop", key="batch_stop", icon=":material/stop:")
        try:
            report = batch_view.run(inputs, data, out, settings, int(workers), float(chunk))
        except FerError as error:
            ui.show_error(error, "the batch")
        except Exception as error:  # noqa: BLE001 - one sentence, the page keeps working
            ui.show_error(error, "the batch")
        else:
            st.session_state[FOLDER_KEY] = str(out)
            st.session_state["batch_fresh_name"] = True  # the next run gets a folder of its own
            failed = f", {report.failed} failed" if report.failed else ""
            st.success(f"{report.analysed + report.no_faces} of {report.files} inputs analysed{failed}: "
                       f"{report.frames} frames in {report.seconds:.1f} s on {report.workers} "
                       f"worker{'s' * (report.workers > 1)}.", icon=":material/check_circle:")
        stop_slot.empty()
    elif st.session_state.get("batch_stop"):
        st.info("Batch stopped. What finished is in its results folder; run it again to continue.",
                icon=":material/stop_circle:")

folder = st.session_state.get(FOLDER_KEY)
if mode == MODES[1]:
    pass  # a results folder opened earlier is not shown under the table
elif folder:
    try:
        batch_view.show(Path(folder))
    except FerError as error:
        ui.show_error(error, folder)
    except Exception as error:  # noqa: BLE001
        ui.show_error(error, folder)
else:
    st.caption(f"Command line: `python -m fer_core.batch ARCHIVE/ --out {root}/NAME` writes a folder this page "
               "opens (with `--workers N`, or `--scheduler tcp://HOST:8786` for a cluster).")
