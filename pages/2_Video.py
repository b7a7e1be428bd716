"""Video page: analyse a video file, or a network stream for a set time, frame by frame; emotion over time per
face, an annotated copy."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from dashboard import charts, files, resources, ui
from dashboard.network_camera import streams_allowed
from fer_core.emotions import EMOTIONS, display_name
from fer_core.errors import FerError, InvalidVideoError
from fer_core.io import check_stream_url, stream_name
from fer_core.results import MIN_TRACK_FRAMES, MIN_TRACK_SECONDS, counted, shares, summarize

settings = ui.setup_page(
    "Video", ":material/movie:",
    "Upload a video, pick a sample or record a network stream: every face is followed through the video, and "
    "you get its emotions over time, the share of time per emotion and an annotated copy to play or download.",
)
ui.legend()

RESULT_KEY = "video_result"

SOURCES = ["Upload a video", "Sample video"] + (["Network stream"] if streams_allowed() else [])
source = st.radio("Source", SOURCES, horizontal=True, key="video_source", label_visibility="collapsed")
name: str | None = None
data: bytes | None = None
sample_path: Path | None = None
url: str | None = None  # a network stream's address, recorded for up to `seconds`
seconds = 0
ACTION = "Record stream" if source == "Network stream" else "Analyse video"
if source == "Network stream":
    u1, u2 = st.columns([3, 1])
    address = u1.text_input("Stream address", key="video_url", placeholder="rtsp://user:password@camera/stream1",
                            help="An IP camera's rtsp://, an MPEG-TS or HLS http(s):// address, rtmp://, udp://, "
                                 "tcp:// or rtp://. In the results, a password in it is shown and saved as ***.").strip()
    seconds = int(u2.number_input("Seconds to record", min_value=5, max_value=3600, value=30, step=5,
                                  key="video_seconds", help="The stream is read for this long (or until it ends)."))
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
    upload = st.file_uploader(f"Video (MP4, MOV, AVI or WebM, up to {files.upload_limit_mb()} MB)",
                              type=files.VIDEO_TYPES, key="video_upload")
    if upload is not None:
        name, data = upload.name, upload.getvalue()
    else:
        st.info("Drop a video above, or switch to **Sample video** to try a bundled one.", icon=":material/upload:")
else:
    samples = files.sample_videos()
    names = list(samples)
    choice = st.selectbox("Sample video", names, index=names.index("single face") if "single face" in names else 0,
                          key="video_sample")
    sample_path = samples[choice]
    name = sample_path.name

c1, c2, c3 = st.columns([2, 2, 3])
every = c1.number_input("Analyse every Nth frame", min_value=1, max_value=60, value=2, step=1, key="video_every",
                        help="1 analyses every frame; 5 analyses one frame in five (five times faster). "
                             "The annotated video keeps every frame, labelled with the latest result.")
annotate = c2.toggle("Make an annotated video", value=True, key="video_annotate",
                     help="Writes an H.264 MP4 with boxes and labels that plays here and can be downloaded.")


def input_key() -> str | None:
    if name is None:
        return None
    key = data if data is not None else f"{url}|{seconds}".encode() if url else str(sample_path).encode()
    digest = hashlib.sha1(key).hexdigest()[:16]
    return f"{name}:{digest}"


def run_key() -> tuple:
    return (input_key(), int(every), bool(annotate), settings.key())


def analyse() -> None:
    """Run the analysis with a progress bar; results go to session state. Temporary files never outlive it,
    and the progress bar never outlives the run (it is cleared on success, error and stop alike)."""
    bar = st.progress(0.0, text=f"Opening {name}...")
    try:
        _analyse(bar)
    finally:
        bar.empty()


def _analyse(bar: Any) -> None:
    recognizer = resources.recognizer(settings)
    state = {"last": 0.0, "start": time.perf_counter()}

    def progress(done: int, total: int) -> bool:
        now = time.perf_counter()
        if now - state["last"] >= 0.2 or done >= total:
            state["last"] = now
            elapsed = now - state["start"]
            left = elapsed / done * max(total - done, 0) if done else 0.0
            # Every update is also where Streamlit interrupts this run when the user presses Stop or leaves.
            if url:
                bar.progress(min(elapsed / seconds, 1.0), text=f"Frame {done} · {elapsed:.0f} of {seconds} s recorded")
            else:
                bar.progress(min(done / max(total, 1), 1.0),
                             text=f"Frame {done} of {total} · {elapsed:.0f} s elapsed · about {left:.0f} s left")
        return not url or now - state["start"] < seconds

    with files.temporary_path(".mp4") as out_path:
        if url:
            result = _run(url, recognizer, out_path, progress)
        elif data is not None:
            with files.temporary_file(data, name or "upload.mp4") as in_path:
                result = _run(in_path, recognizer, out_path, progress)
        else:
            result = _run(sample_path, recognizer, out_path, progress)
        video_bytes = out_path.read_bytes() if annotate and out_path.exists() and out_path.stat().st_size else None
    result.output_path = None
    st.session_state[RESULT_KEY] = {"key": run_key(), "name": name, "analysis": result, "video": video_bytes,
                                    "recorded_for": seconds if url else None}


def _run(path: Path | str, recognizer: Any, out_path: Path, progress: Callable[[int, int], bool]) -> Any:
    """The one frame path over the video (the sidebar's settings are the recognizer's)."""
    from fer_core.video import analyze_video

    return analyze_video(path, recognizer, every=int(every), output_path=out_path if annotate else None,
                         progress=progress, source=name)


with c3:
    st.write("")
    start = st.button(ACTION, type="primary", icon=":material/play_arrow:", key="video_go", disabled=name is None)
    st.caption("A run can be stopped at any time, or cancelled by leaving the page.")

if st.session_state.get("video_stop"):
    before = st.session_state.get(RESULT_KEY)
    kept = (" The results below are from the run before it." if before and before["key"][0] == input_key()
            else " Nothing of it was kept.")
    st.info(f"Analysis stopped.{kept} Press **{ACTION}** to start again.", icon=":material/stop_circle:")
if start and name is not None:
    # The last finished run stays until this one finishes: a run stopped half-way does not lose it.
    # Pressing Stop reruns the page, which interrupts this run at its next progress update.
    stop_slot = st.empty()
    stop_slot.button("Stop", key="video_stop", icon=":material/stop:")
    try:
        analyse()
    except InvalidVideoError as error:
        ui.show_error(error, name)
    except Exception as error:  # noqa: BLE001 - one sentence, the page keeps working
        ui.show_error(error, name)
    stop_slot.empty()

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
    if analysis.broke_off:
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
