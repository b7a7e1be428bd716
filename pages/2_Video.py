"""Video page: analyse a video file, or a network stream for a set time, frame by frame; emotion over time per
face, an annotated copy.

The analysis runs in a background thread (`dashboard.jobs.ThreadJob`) kept in the session, not in the page's
script run: a sidebar change or a visit to another page reruns or replaces the script but not the analysis,
which goes on with the settings it started with (the page says so). Stop ends it at the next frame and keeps
what was analysed, as the CLI does on Ctrl-C. The page's inputs (the upload too) are kept for the session.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from dashboard import charts, files, kept, resources, ui
from dashboard.jobs import ThreadJob
from dashboard.network_camera import streams_allowed
from fer_core.emotions import EMOTIONS, display_name
from fer_core.errors import FerError
from fer_core.io import check_stream_url, stream_name
from fer_core.results import MIN_TRACK_FRAMES, MIN_TRACK_SECONDS, counted, shares, summarize

settings = ui.setup_page(
    "Video", ":material/movie:",
    "Upload a video, pick a sample or record a network stream: every face is followed through the video, and "
    "you get its emotions over time, the share of time per emotion and an annotated copy to play or download.",
)
ui.legend()

RESULT_KEY = "video_result"
JOB_KEY = "video_job"  # the analysis going on: its thread and what it started with
ERROR_KEY = "video_error"  # how the last run failed, shown until the next one starts

SOURCES = ["Upload a video", "Sample video"] + (["Network stream"] if streams_allowed() else [])
source = st.radio("Source", SOURCES, horizontal=True, key=kept.remember("video_source"), label_visibility="collapsed")
if source not in SOURCES:  # kept from a session that could record streams
    source = SOURCES[0]
name: str | None = None
data: bytes | None = None
sample_path: Path | None = None
url: str | None = None  # a network stream's address, recorded for up to `seconds`
seconds = 0
ACTION = "Record stream" if source == "Network stream" else "Analyse video"
if source == "Network stream":
    u1, u2 = st.columns([3, 1])
    address = u1.text_input("Stream address", key=kept.remember("video_url"), placeholder="rtsp://user:password@camera/stream1",
                            help="An IP camera's rtsp://, an MPEG-TS or HLS http(s):// address, rtmp://, udp://, "
                                 "tcp:// or rtp://. In the results, a password in it is shown and saved as ***.").strip()
    seconds = int(u2.number_input("Seconds to record", min_value=5, max_value=3600, step=5,
                                  key=kept.remember("video_seconds", 30), help="The stream is read for this long (or until it ends)."))
    if not address:
        st.info("Type the address of a live stream, such as an IP camera's.", icon=":material/videocam:")
    else:
        try:
            check_stream_url(address)
        except FerError as error:
            ui.show_error(error)
        else:
            url, name = address, stream_name(address)
elif source == "Upload a video":
    st.file_uploader(f"Video (MP4, MOV, AVI or WebM, up to {files.upload_limit_mb()} MB)",
                     type=files.VIDEO_TYPES, key="video_upload", on_change=kept.upload_changed, args=("video_upload",))
    uploaded = kept.uploads("video_upload")  # after a visit to another page: the video uploaded before
    if uploaded:
        name, data = uploaded[0]
        if st.session_state.get("video_upload") is None:
            st.caption(f"Using {name}, uploaded earlier in this session; drop another video to replace it.")
    else:
        st.info("Drop a video above, or switch to **Sample video** to try a bundled one.", icon=":material/upload:")
else:
    samples = files.sample_videos()
    names = list(samples)
    choice = st.selectbox("Sample video", names,
                          key=kept.remember("video_sample", "single face" if "single face" in names else names[0]))
    sample_path = samples[choice]
    name = sample_path.name

c1, c2, c3 = st.columns([2, 2, 3])
every = c1.number_input("Analyse every Nth frame", min_value=1, max_value=60, step=1, key=kept.remember("video_every", 2),
                        help="1 analyses every frame; 5 analyses one frame in five (five times faster). "
                             "The annotated video keeps every frame, labelled with the latest result.")
annotate = c2.toggle("Make an annotated video", key=kept.remember("video_annotate", True),
                     help="Writes an H.264 MP4 with boxes and labels that plays here and can be downloaded.")


def input_key() -> str | None:
    if name is None:
        return None
    key = data if data is not None else f"{url}|{seconds}".encode() if url else str(sample_path).encode()
    digest = hashlib.sha1(key).hexdigest()[:16]
    return f"{name}:{digest}"


def run_key() -> tuple:
    return (input_key(), int(every), bool(annotate), settings.key())


def analyse(run: dict[str, Any], recognizer: Any, job: ThreadJob) -> dict[str, Any]:
    """The analysis of `run` (a snapshot of the inputs when it started), in the job's thread: no Streamlit
    call here. Progress goes to `job`; Stop (`job.stop()`) ends it at the next frame, keeping the frames
    analysed so far. Temporary files never outlive it."""
    start = time.perf_counter()

    def progress(done: int, total: int) -> bool:
        job.done, job.total = done, total
        if job.stop_requested:
            return False
        return not run["url"] or time.perf_counter() - start < run["seconds"]

    with files.temporary_path(".mp4") as out_path:
        if run["url"]:
            result = _run(run["url"], recognizer, out_path, progress, run)
        elif run["data"] is not None:
            with files.temporary_file(run["data"], run["name"] or "upload.mp4") as in_path:
                result = _run(in_path, recognizer, out_path, progress, run)
        else:
            result = _run(run["sample_path"], recognizer, out_path, progress, run)
        annotated = run["annotate"] and out_path.exists() and out_path.stat().st_size
        video_bytes = out_path.read_bytes() if annotated else None
    result.output_path = None
    return {"key": run["key"], "name": run["name"], "analysis": result, "video": video_bytes,
            "recorded_for": run["seconds"] if run["url"] else None, "stopped_by_user": job.stop_requested}


def _run(path: Path | str, recognizer: Any, out_path: Path, progress: Callable[[int, int], bool],
         run: dict[str, Any]) -> Any:
    """The one frame path over the video (the settings are the recognizer's, as they were at the start)."""
    from fer_core.video import analyze_video

    return analyze_video(path, recognizer, every=run["every"], output_path=out_path if run["annotate"] else None,
                         progress=progress, source=run["name"])


def describe(settings: Any, every: int) -> str:
    return (f"model {settings.model or 'default'}, detector {settings.detector}, every {every} frame"
            f"{'s' if every > 1 else ''}, smoothing {settings.smoothing}"
            + (", mirror TTA" if settings.tta else "") + (", eyes levelled" if settings.level_eyes else ""))


def run_panel() -> None:
    """The analysis going on, polled twice a second (a fragment): its progress, what it runs with, Stop. When it
    ends, its result (or error) goes to the session and the whole page redraws."""
    running = st.session_state.get(JOB_KEY)
    if running is None:
        return
    job: ThreadJob = running["job"]
    if not job.running:
        st.session_state.pop(JOB_KEY, None)
        if job.error is not None:
            st.session_state[ERROR_KEY] = {"error": job.error, "name": running["name"]}
        else:
            st.session_state[RESULT_KEY] = job.result
        st.rerun()
    elapsed = time.time() - job.started
    if job.stop_requested:
        text = f"Stopping at frame {job.done}: keeping what was analysed..."
        share = min(job.done / max(job.total, 1), 1.0)
    elif running["url"]:
        share = min(elapsed / running["seconds"], 1.0)
        text = f"Frame {job.done} · {elapsed:.0f} of {running['seconds']} s recorded"
    elif job.done:
        share = min(job.done / max(job.total, 1), 1.0)
        left = elapsed / job.done * max(job.total - job.done, 0)
        text = f"Frame {job.done} of {job.total} · {elapsed:.0f} s elapsed · about {left:.0f} s left"
    else:
        share, text = 0.0, f"Opening {running['name']}..."
    st.progress(share, text=text)
    b, c = st.columns([1, 5], vertical_alignment="center")
    b.button("Stop", key="video_stop", icon=":material/stop:", on_click=job.stop, disabled=job.stop_requested,
             help="Ends the analysis at the next frame; the frames analysed so far are kept, with their results.")
    now = run_key()
    changed = now[1:] != running["key"][1:] or now[0] != running["key"][0]
    c.caption(f"{'Settings changed since this run started: it goes on with the ones it started with' if changed else 'Runs with'}"
              f" ({describe(running['settings'], running['key'][1])}); "
              f"{'press **' + ACTION + '** when it ends to apply the new ones' if changed else 'changing a setting or opening another page does not stop it'}.")


with c3:
    st.write("")
    busy = st.session_state.get(JOB_KEY) is not None
    start = st.button(ACTION, type="primary", icon=":material/play_arrow:", key="video_go",
                      disabled=name is None or busy)
    st.caption("A run goes on when you change a setting or open another page; **Stop** keeps the frames analysed "
               "so far.")

if start and name is not None and not busy:
    try:
        recognizer = resources.recognizer(settings)
    except Exception as error:  # noqa: BLE001 - one sentence, the page keeps working
        ui.show_error(error, "the model")
    else:
        run = {"name": name, "data": data, "sample_path": sample_path, "url": url, "seconds": seconds,
               "every": int(every), "annotate": bool(annotate), "key": run_key(), "settings": settings}
        st.session_state.pop(ERROR_KEY, None)
        # The last finished run stays on the page until this one ends.
        st.session_state[JOB_KEY] = {**{k: run[k] for k in ("name", "url", "seconds", "key", "settings")},
                                     "job": ThreadJob(lambda job: analyse(run, recognizer, job), name="fer-video")}

if st.session_state.get(JOB_KEY) is not None:
    st.fragment(run_panel, run_every=0.5)()

failed = st.session_state.get(ERROR_KEY)
if failed and failed["name"] == name:
    ui.show_error(failed["error"], failed["name"])

stored = st.session_state.get(RESULT_KEY)
if stored and stored["key"][0] == input_key():
    analysis = stored["analysis"]
    if stored["key"] != run_key():
        st.caption(f"Settings changed since this run: press **{ACTION}** to apply them.")
    info = analysis.info
    st.divider()
    shown = f"`{stored['name']}`" if "://" in stored["name"] else stored["name"]  # an address: not a link (its *** is)
    st.subheader(f"Results: {shown}")
    m = st.columns(5)
    m[0].metric("Length", f"{info.duration or analysis.last_time + 1 / info.fps:.1f} s")  # a live stream: as recorded
    m[1].metric("Frames analysed", f"{analysis.frames_analysed} / {analysis.frames_decoded}")
    brief = analysis.short_track_ids
    m[2].metric("Faces followed", len(analysis.face_ids),
                help=f"Faces followed for at least {MIN_TRACK_FRAMES} analysed frames and {MIN_TRACK_SECONDS:g} s."
                     + (f" {len(brief)} briefer detection{'s' if len(brief) > 1 else ''} (most often a pattern in "
                        "the background seen for a moment) not counted: "
                        "they stay in the downloads, marked short_track." if brief else ""))
    m[3].metric("Processing", f"{analysis.frames_decoded / max(analysis.seconds, 1e-6):.0f} fps")
    m[4].metric("Size", f"{info.width}x{info.height}")

    table = counted(analysis.table)  # the faces that count; the downloads keep every row
    recorded_for = stored.get("recorded_for")
    if stored.get("stopped_by_user"):
        st.info(f"Stopped at {analysis.last_time:.1f} s"
                + (f" of {info.duration:.1f} s" if info.duration and not recorded_for else "")
                + f": the results cover the {analysis.frames_analysed} frames analysed so far. Press **{ACTION}** to "
                  "analyse the whole video.", icon=":material/stop_circle:")
    elif analysis.broke_off:
        what = "The stream stopped sending" if recorded_for else "The video could not be decoded further"
        st.warning(f"{what} after {analysis.last_time:.1f} s ({analysis.frames_decoded} frames): the results cover "
                   "those.", icon=":material/portable_wifi_off:")
    elif recorded_for and analysis.stopped and analysis.last_time + 2 < recorded_for:
        st.warning(f"The stream sent {analysis.last_time:.1f} s of video in the {recorded_for} s recorded: it stopped "
                   "sending, or sends slower than real time. The results cover what arrived.",
                   icon=":material/portable_wifi_off:")
    if brief:
        st.caption(f"{len(brief)} brief detection{'s' if len(brief) > 1 else ''} (under {MIN_TRACK_FRAMES} analysed "
                   f"frames or {MIN_TRACK_SECONDS:g} s) not counted as a face; the downloads keep "
                   f"{'them' if len(brief) > 1 else 'it'}, marked short_track.")
    if not len(table):
        st.warning(f"No face was found in {stored['name']}. Try a lower confidence threshold or a smaller minimum "
                   "face size in the sidebar.", icon=":material/search_off:")
    summary = summarize(table)
    left, right = st.columns([3, 2], gap="large")
    with left:
        if stored["video"]:
            st.markdown("##### Annotated video")
            st.video(stored["video"], format="video/mp4")
    with right:
        if len(table):
            st.markdown("##### Share of time")
            st.plotly_chart(charts.share_of_time(shares(summarize(table, by=()).iloc[0])), key="video_share",
                            config={"displayModeBar": False}, width="stretch")
            ui.chips([(str(row.dominant), float(getattr(row, f"share_{row.dominant}")))
                      for row in summary.itertuples()])
            st.caption("Dominant emotion of each face, with the share of its time.")

    if len(table):
        st.markdown("##### Emotion over time")
        ui.face_timelines(table, "video_tl")
        st.caption("Lines: the model's probabilities in each analysed frame. Band: the label shown, smoothed "
                   "over the face's recent frames.")
        st.markdown("##### Per-face summary")
        show = summary.drop(columns=["source"]).rename(columns={
            "face_id": "face", "first_seen": "from (s)", "last_seen": "to (s)",
            **{f"share_{e}": display_name(e) for e in EMOTIONS}})
        show["dominant"] = show["dominant"].map(display_name)
        for e in EMOTIONS:
            show[display_name(e)] = (show[display_name(e)].astype(float) * 100).round(0)
        st.dataframe(show, hide_index=True, width="stretch", column_config={
            "face": st.column_config.NumberColumn("face", width="small"),
            "from (s)": st.column_config.NumberColumn("from (s)", format="%.1f", width="small"),
            "to (s)": st.column_config.NumberColumn("to (s)", format="%.1f", width="small"),
            "frames": st.column_config.NumberColumn("frames", width="small", help="Analysed frames with this face."),
            "dominant": st.column_config.TextColumn("dominant", width="small"),
            **{display_name(e): st.column_config.NumberColumn(display_name(e), format="%.0f%%", width="small")
               for e in EMOTIONS}})
        st.caption("Share of each face's analysed frames per emotion; times in seconds.")

    stem = files.safe_stem(stored["name"])
    d1, d2, d3, d4 = st.columns(4)
    if stored["video"]:
        d1.download_button("Annotated video (MP4)", stored["video"], f"{stem}_annotated.mp4", "video/mp4",
                           key="video_dl_mp4", on_click="ignore", width="stretch", icon=":material/movie:")
    files.download_buttons(analysis.table, stem, "video", [d2, d3, d4])
