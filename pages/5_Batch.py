"""Batch page: open the results of a batch job, or run a small batch here on a local Dask cluster."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard import batch_view, files, server_paths, table_view, ui
from fer_core.errors import FerError

settings = ui.setup_page(
    "Batch", ":material/folder_copy:",
    "Whole archives of photos and videos, analysed on a Dask cluster: open the results of a batch job "
    "(python -m fer_core.batch) or a results table from the command line, or run a small batch here.",
)
ui.legend()

FOLDER_KEY = "batch_folder"

MODES = ["Open a results folder", "Open a results table", "Run a batch"]
# A public deployment (FER_PUBLIC=1) neither reads nor writes the server's files: a results table upload only.
on_server = server_paths.server_paths_allowed()
mode = st.radio("Mode", MODES if on_server else MODES[1:2], horizontal=True, key="batch_mode",
                label_visibility="collapsed")
root = batch_view.batch_root()
ROOTS_HELP = f"Paths under {server_paths.describe_roots()} (more with FER_SERVER_ROOTS; see docs/deployment.md)."
if not on_server:
    st.caption("This is a public deployment: results folders, paths and batch runs on the server are turned off. "
               "Run batches with `python -m fer_core.batch` and open their results tables here.")


def allowed(text: str) -> str | None:
    """The typed path resolved if the server may open it, else None with the one sentence shown."""
    try:
        return str(server_paths.resolve_allowed(text))
    except FerError as error:
        ui.show_error(error)
        return None

if mode == MODES[0]:
    found = batch_view.result_folders(root)
    shown = st.session_state.get(FOLDER_KEY)
    if shown in map(str, found) and not st.session_state.get("batch_path"):
        st.session_state["batch_found"] = shown  # the menu names the folder on show (a batch just run here)
    c1, c2 = st.columns([2, 3])
    choice = c1.selectbox(f"Results in {root}", [str(p) for p in found], index=None, key="batch_found",
                          placeholder="pick a results folder" if found else "none yet",
                          format_func=lambda p: Path(p).name)
    typed = c2.text_input("Or a results folder's path", key="batch_path", help=ROOTS_HELP,
                          placeholder=f"e.g. {root / 'interviews'} (the --out of a batch job)").strip()
    wanted = (allowed(typed) if typed else None) or (None if typed else choice)
    if wanted:
        st.session_state[FOLDER_KEY] = wanted
    else:  # both cleared, or a path refused: nothing on show (not the folder, or the error, from before)
        st.session_state.pop(FOLDER_KEY, None)
elif mode == MODES[1]:
    c1, c2 = st.columns([3, 2])
    upload = c1.file_uploader(f"Results table (CSV, JSON or Parquet, up to {files.upload_limit_mb()} MB)",
                              type=table_view.TABLE_TYPES, key="batch_table")
    path, follow = "", False
    if on_server:
        path = c2.text_input("Or a results table's path on this computer", key="batch_table_path", help=ROOTS_HELP,
                             placeholder=f"e.g. {root / 'live' / 'door.csv'} (a camera's --results)").strip()
        follow = c2.toggle(f"Follow it: look again every {table_view.FOLLOW_SECONDS} s", key="batch_table_follow",
                           disabled=not path or upload is not None,
                           help="For a table the command line is still writing, such as a camera's growing CSV.")
    if upload is not None or not path:
        table_view.open_table(upload, path, follow)
    elif (resolved := allowed(path)) is not None:
        table_view.open_table(None, resolved, follow)
else:
    samples = {**files.sample_photos(), **files.sample_videos()}
    c1, c2 = st.columns([3, 2])
    chosen = c1.multiselect("Bundled samples", list(samples), key="batch_samples", placeholder="none")
    uploads = c1.file_uploader(f"And/or your photos, videos and zips of them (up to {files.upload_limit_mb()} MB "
                               "each)", type=files.IMAGE_TYPES + files.VIDEO_TYPES + ["zip"],
                               accept_multiple_files=True, key="batch_uploads",
                               help="A zip's photos and videos are analysed, in its folders too; other files in it "
                                    "are passed over.")
    typed_folder = c1.text_input("And/or a folder of photos and videos on the server", key="batch_input_folder",
                                 help=ROOTS_HELP, placeholder=f"e.g. {server_paths.data_root() / 'wild_dev'}").strip()
    if st.session_state.pop("batch_fresh_name", False) or not st.session_state.get("batch_name"):
        st.session_state["batch_name"] = batch_view.new_run_name()  # set before the widget is drawn
    name = c2.text_input("Results folder", key="batch_name",
                         help=f"Written under {root}. Running again into the same folder skips what is finished.")
    cores = os.cpu_count() or 1
    workers = c2.number_input("Local workers", min_value=1, max_value=max(cores, 1), value=min(2, cores), step=1,
                              key="batch_workers", help="Worker processes of the local Dask cluster; each loads "
                              "the detector and the model once.")
    every = c2.number_input("Video: every Nth frame", min_value=1, max_value=300, value=1, step=1, key="batch_every",
                            help="1 analyses every frame; 5 every fifth (five times faster, a coarser timeline). "
                            "Photos are always analysed.")
    chunk = c2.number_input("Video chunk (s)", min_value=1.0, max_value=600.0, value=20.0, step=1.0,
                            key="batch_chunk", help="Videos are cut at keyframes into chunks of at least this "
                            "length, which run on any worker and are put back in time order.")
    inputs = [samples[n] for n in chosen]
    folder_ok = True
    if typed_folder:
        try:
            inputs.append(batch_view.server_folder(typed_folder))
        except FerError as error:
            ui.show_error(error)
            folder_ok = False
    data = [(u.name, u.getvalue()) for u in uploads or []]
    go = c2.button("Run batch", type="primary", icon=":material/play_arrow:", key="batch_go",
                   disabled=not folder_ok or (not inputs and not data))
    if not inputs and not data and folder_ok:
        c1.caption("Pick samples, upload photos, videos or a zip, or name a folder to run a batch.")
    if go:
        out = root / batch_view.clean_run_name(name)
        stop_slot = st.empty()
        # Pressing Stop reruns the page, which stops the job at its next progress update; what finished stays.
        stop_slot.button("Stop", key="batch_stop", icon=":material/stop:")
        try:
            report = batch_view.run(inputs, data, out, settings, int(workers), float(chunk), int(every))
        except FerError as error:
            ui.show_error(error, "the batch")
        except Exception as error:  # noqa: BLE001 - one sentence, the page keeps working
            ui.show_error(error, "the batch")
        else:
            st.session_state[FOLDER_KEY] = str(out)
            st.session_state["batch_fresh_name"] = True  # the next run gets a folder of its own
            how, text = batch_view.report_message(report)
            icons = {"success": ":material/check_circle:", "warning": ":material/warning:",
                     "error": ":material/error:"}
            getattr(st, how)(text, icon=icons[how])
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
