"""The Batch page's parts: where results folders live, a small batch run with a progress bar, and the views
of a results folder (`fer_core.batch.store.open_results`): per-file summaries with filters and sorting, the
archive's emotion mix, emotion over time for any video, errors and downloads.

Everything shown is read from the folder a batch job wrote (the same files `python -m fer_core.batch`
writes), so a folder made on the command line or on a cluster opens here the same way.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import streamlit as st

from fer_core.emotions import EMOTIONS, display_name
from fer_core.results import counted

from . import charts, server_paths, ui
from .files import safe_stem

if TYPE_CHECKING:
    import pandas as pd

    from fer_core.batch.runner import BatchReport, Progress
    from fer_core.batch.store import BatchResults
    from fer_core.settings import Settings

batch_root = server_paths.batch_root  # one definition: the pages' typed paths are allowed under it


def result_folders(root: Path | None = None) -> list[Path]:
    """Results folders under the root (the root itself if it is one), newest first."""
    from fer_core.batch.store import is_results_folder

    root = root or batch_root()
    if not root.is_dir():
        return []
    found = [root] if is_results_folder(root) else []
    found += [p for p in root.iterdir() if p.is_dir() and is_results_folder(p)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def new_run_name() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S")


def clean_run_name(name: str) -> str:
    """A folder name for a run: letters, digits, '-', '_' and '.' (never a path)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._") or new_run_name()


def _status_text(p: "Progress") -> str:
    left = f" · about {p.eta:.0f} s left" if p.eta is not None and p.files_done < p.files_total else ""
    failed = f" ({p.files_failed} failed)" if p.files_failed else ""
    return (f"Files {p.files_done} of {p.files_total}{failed} · frames {p.frames_done} of {p.frames_total} · "
            f"{p.elapsed:.0f} s{left}")


def stage_uploads(uploads: Sequence[tuple[str, bytes]], folder: Path) -> list[Path]:
    """Write the uploads into `folder` for the job: a photo or video as one file, a zip unpacked into a folder
    of its own (`fer_core.archives.extract_zip`: no path out of it, bounded size and count) whose photos and
    videos are the job's inputs, named by their path inside the zip. Returns the paths to give the job."""
    from fer_core.archives import extract_zip
    from fer_core.errors import FerError
    from fer_core.io import is_image_path, is_video_path

    paths: list[Path] = []
    for name, data in uploads:
        target = folder / (safe_stem(name) + Path(name).suffix.lower())
        if target.suffix == ".zip":
            unpacked = extract_zip(data, folder / safe_stem(name), name=name)
            if not any(p.is_file() and (is_image_path(p) or is_video_path(p)) for p in unpacked.rglob("*")):
                raise FerError(f"{name} holds no photos or videos this tool reads.")
            paths.append(unpacked)
        else:
            target.write_bytes(data)
            paths.append(target)
    return paths


def server_folder(text: str) -> Path:
    """A folder of photos and videos on the server, typed by the user: allowed only under the roots
    (`server_paths.resolve_allowed`), and a folder, not a pattern. Raises a FerError of one sentence otherwise.
    (Its files are looked at when the batch runs, by `links_out`: a large folder is not walked on every rerun.)"""
    from fer_core.errors import FerError

    folder = server_paths.resolve_allowed(text)
    if any(ch in str(folder) for ch in "*?["):
        raise FerError("Give a folder's path, not a pattern with * ? or [.")
    if not folder.is_dir():
        raise FerError(f"{folder} is not a folder on this server.")
    return folder


def check_links(folder: Path) -> None:
    """Refuse a server folder in which a photo or video is a link to a file outside the allowed roots: the
    folder is allowed, but what the job would read is not."""
    from fer_core.batch.inputs import collect_inputs
    from fer_core.errors import FerError

    allowed = server_paths.roots()
    for entry in collect_inputs([folder]):  # entry.path is resolved: a link out shows here
        if not any(entry.path.is_relative_to(root) for root in allowed):
            raise FerError(f"{folder} holds links to files outside the folders this server opens.")


def run(inputs: Sequence[Path], uploads: Sequence[tuple[str, bytes]], out: Path, settings: "Settings",
        workers: int, chunk_seconds: float, every: int = 1) -> "BatchReport":
    """Run a batch on a local Dask cluster with a progress bar; uploads (and unpacked zips) live in a temporary
    folder for the length of the run. Videos are analysed every `every`th frame. A folder among `inputs` is a
    server folder (`server_folder`) and is checked for links out first. Stopping the page (or leaving it)
    stops the job; what finished stays in `out`."""
    from fer_core.batch import BatchOptions, run_batch
    from fer_core.batch.cluster import ClusterSpec

    for path in inputs:
        if path.is_dir():
            check_links(path)
    bar = st.progress(0.0, text=f"Starting a local Dask cluster of {workers} worker{'s' * (workers > 1)}...")
    folder = Path(tempfile.mkdtemp(prefix="fer-batch-"))
    try:
        paths = list(inputs) + stage_uploads(uploads, folder)

        def connected(link: str | None, threads: int) -> None:
            bar.progress(0.0, text=f"Dask cluster ready: {threads} worker{'s' * (threads > 1)}; loading the files...")

        def progress(p: "Progress") -> bool:
            # Each update is also where Streamlit stops this run when the user presses Stop or leaves.
            bar.progress(min(p.frames_done / max(p.frames_total, 1), 1.0), text=_status_text(p))
            return True

        options = BatchOptions(out=out, settings=settings, every=every, chunk_seconds=chunk_seconds,
                               cluster=ClusterSpec(workers=workers))
        report = run_batch(paths, options, progress=progress, on_connect=connected)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        bar.empty()
    return report


def report_message(report: "BatchReport") -> tuple[str, str]:
    """What a finished run says, and how: "success" when nothing failed, "warning" when some inputs failed,
    "error" when most did (or all): a run that mostly failed must not look like a success."""
    done = report.skipped + report.analysed + report.no_faces
    where = (f"{report.frames} frames in {report.seconds:.1f} s on {report.workers} "
             f"worker{'s' * (report.workers > 1)}")
    if not report.failed:
        return "success", f"{done} of {report.files} inputs analysed: {where}."
    text = (f"{report.failed} of {report.files} inputs failed, {done} analysed ({where}); "
            "the errors table below says why.")
    return ("error" if report.failed * 2 > report.files else "warning"), text


# --- reading a results folder ------------------------------------------------------------------------------

def _stamp(folder: Path) -> tuple:
    from fer_core.batch.store import MANIFEST

    manifest = folder / MANIFEST
    stat = manifest.stat() if manifest.exists() else None
    return (str(folder.resolve()), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)


@st.cache_data(show_spinner=False, max_entries=8)
def _load(stamp: tuple) -> "BatchResults":
    from fer_core.batch.store import open_results

    return open_results(stamp[0])


def load(folder: Path) -> "BatchResults":
    """The folder's results, cached until its manifest changes (a job still running adds to it)."""
    return _load(_stamp(folder))


@st.cache_data(show_spinner=False, max_entries=32)
def _faces(stamp: tuple, sources: tuple[str, ...]) -> "pd.DataFrame":
    return _load(stamp).faces(list(sources))


def faces(folder: Path, sources: Sequence[str]) -> "pd.DataFrame":
    return _faces(_stamp(folder), tuple(sources))


# --- the views ---------------------------------------------------------------------------------------------

SORTS = {
    "name": "source", "dominant emotion": "dominant", "faces": "faces", "frames analysed": "frames_analysed",
    "length (s)": "duration", **{f"share {display_name(e).lower()}": f"share_{e}" for e in EMOTIONS},
    "processing time": "seconds",
}


def filter_files(files: "pd.DataFrame", kinds: Sequence[str], dominant: Sequence[str], text: str,
                 sort: str, descending: bool) -> "pd.DataFrame":
    """The per-file summary after the page's filters (kind, dominant emotion, a name contains) and sort."""
    shown = files
    if kinds:
        shown = shown[shown["kind"].isin(kinds)]
    if dominant:
        shown = shown[shown["dominant"].isin(dominant)]
    if text:
        shown = shown[shown["source"].str.contains(text, case=False, regex=False)]
    column = SORTS.get(sort, "source")
    return shown.sort_values(column, ascending=not descending, na_position="last", kind="stable")


def overview(results: "BatchResults") -> None:
    files, failures = results.files, results.failures
    with_faces = int((files["status"] == "done").sum())
    m = st.columns(5)
    m[0].metric("Inputs analysed", len(files))
    m[1].metric("With faces", with_faces)
    m[2].metric("Without faces", len(files) - with_faces)
    m[3].metric("Failed", len(failures))
    m[4].metric("Frames analysed", f"{int(files['frames_analysed'].fillna(0).sum()):,}")


def emotion_mix(results: "BatchResults") -> None:
    files = results.files
    mix = results.mix()
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown("##### Emotion mix across the archive")
        if any(mix.values()):
            st.plotly_chart(charts.share_of_time(mix), key="batch_mix", config={"displayModeBar": False},
                            width="stretch")
            st.caption("Share of all face-frames (every face in every analysed frame) per emotion.")
        else:
            st.info("No face was found in any input yet.", icon=":material/search_off:")
    with right:
        st.markdown("##### Dominant emotion per input")
        dominant = files[files["status"] == "done"]["dominant"].value_counts()
        if len(dominant):
            ui.chips([(str(e), float(dominant.get(e, 0)) / int(dominant.sum())) for e in EMOTIONS if dominant.get(e, 0)])
            st.caption("Share of the inputs with faces whose most frequent emotion is each one.")
        kinds = files.groupby("kind")["source"].count().to_dict()
        st.caption(", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(kinds.items())))


def file_table(results: "BatchResults") -> "pd.DataFrame":
    """Filters, sorting and the per-file summary table; returns the rows shown."""
    files = results.files
    st.markdown("##### Per-file summaries")
    c = st.columns([2, 2, 2, 2, 1.7], vertical_alignment="bottom")
    kinds = c[0].multiselect("Kind", ["photo", "video"], key="batch_kinds", placeholder="all")
    present = [e for e in EMOTIONS if e in set(files["dominant"].dropna())]
    dominant = c[1].multiselect("Dominant emotion", present, format_func=display_name, key="batch_dominant",
                                placeholder="all")
    text = c[2].text_input("Name contains", key="batch_text", placeholder="e.g. interview")
    sort = c[3].selectbox("Sort by", list(SORTS), key="batch_sort")
    descending = c[4].toggle("Descending", key="batch_desc")
    shown = filter_files(files, kinds, dominant, text, sort, descending)
    view = shown[["source", "kind", "status", "faces", "frames_analysed", "duration", "dominant",
                  *[f"share_{e}" for e in EMOTIONS], "seconds"]].copy()
    view["dominant"] = view["dominant"].map(lambda e: display_name(e) if isinstance(e, str) else "")
    for e in EMOTIONS:
        view[f"share_{e}"] = (view[f"share_{e}"].astype(float) * 100).round(0)
    st.dataframe(view, hide_index=True, width="stretch", key="batch_files", column_config={
        "source": st.column_config.TextColumn("input"),
        "frames_analysed": st.column_config.NumberColumn("frames", format="%d"),
        "duration": st.column_config.NumberColumn("length (s)", format="%.1f"),
        "seconds": st.column_config.NumberColumn("worker s", format="%.2f"),
        **{f"share_{e}": st.column_config.ProgressColumn(display_name(e), min_value=0, max_value=100, format="%d%%")
           for e in EMOTIONS},
    })
    st.caption(f"{len(shown)} of {len(files)} inputs. Shares: of each input's face-frames per emotion.")
    return shown


def timeline(folder: Path, results: "BatchResults", shown: "pd.DataFrame") -> None:
    videos = shown[(shown["kind"] == "video") & (shown["status"] == "done")]["source"].tolist()
    st.markdown("##### Emotion over time")
    if not videos:
        st.caption("No video with faces among the inputs shown.")
        return
    choice = st.selectbox("Video", videos, key="batch_video")
    ui.face_timelines(counted(faces(folder, [choice])), "batch_tl")  # short tracks left out, as on the Video page
    st.caption("Lines: the model's probabilities in each analysed frame. Band: the label shown, smoothed over "
               "the face's recent frames. Videos cut into chunks are shown as one, with one id per face; tracks too "
               "short to count as a face are left out here and kept in the downloads.")


def errors(results: "BatchResults") -> None:
    if not len(results.errors):
        return
    st.markdown("##### Errors and inputs without faces")
    st.dataframe(results.errors[["source", "error", "reason"]], hide_index=True, width="stretch",
                 key="batch_errors")
    st.caption("A rerun of the same job retries the inputs that failed; inputs without faces are not retried.")


def downloads(folder: Path, results: "BatchResults") -> None:
    from fer_core.results import export_bytes, provenance_line

    stem = safe_stem(folder.name)
    made_by = provenance_line(results.meta.get("provenance"))  # the summaries say what made them too
    d = st.columns(4)
    d[0].download_button("Per-file summary (CSV)", (made_by + results.files.to_csv(index=False)).encode(),
                         f"{stem}_files.csv", "text/csv", key="batch_dl_files", on_click="ignore", width="stretch",
                         icon=":material/table:")
    d[1].download_button("Errors (CSV)", (made_by + results.errors.to_csv(index=False)).encode(), f"{stem}_errors.csv",
                         "text/csv", key="batch_dl_errors", on_click="ignore", width="stretch",
                         icon=":material/error:")
    # Every row of every input: made only when asked for (an archive's table can be large).
    d[2].download_button("All results (CSV)", lambda: export_bytes(results.faces(), "csv"), f"{stem}_results.csv",
                         "text/csv", key="batch_dl_csv", on_click="ignore", width="stretch", icon=":material/table:")
    d[3].download_button("All results (Parquet)", lambda: export_bytes(results.faces(), "parquet"),
                         f"{stem}_results.parquet", "application/vnd.apache.parquet", key="batch_dl_parquet",
                         on_click="ignore", width="stretch", icon=":material/database:")


def show(folder: Path) -> None:
    """Everything about one results folder."""
    results = load(folder)
    st.divider()
    st.subheader(f"Results: {folder.name}")
    made_by = results.meta.get("provenance")
    if made_by:  # what made the results, as their downloads and Parquet files say it
        from fer_core.provenance import describe

        st.caption(f"{folder}. {describe(made_by)}")
    else:  # a folder from before batch.json said so: its settings
        settings = results.meta.get("analysis", {}).get("settings", {})
        st.caption(f"{folder} · detector {settings.get('detector', '?')}, model {settings.get('model') or 'default'}, "
                   f"every {results.meta.get('analysis', {}).get('every', 1)} frame(s)")
    if not len(results.files) and not len(results.errors):
        st.info("Nothing is finished in this folder yet.", icon=":material/hourglass_empty:")
        return
    overview(results)
    emotion_mix(results)
    shown = file_table(results)
    timeline(folder, results, shown)
    errors(results)
    downloads(folder, results)
