"""Webcam page: the live stream with boxes and labels, live probabilities, a rolling timeline, fps."""

from __future__ import annotations

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from dashboard import batch_view, charts, files, resources, server_paths, ui
from dashboard import network_camera as netcam
from dashboard import webrtc as rtc
from dashboard.live import SOURCE, LiveHistory, LiveSession
from fer_core.emotions import display_name
from fer_core.errors import FerError
from fer_core.results import MIN_TRACK_FRAMES, MIN_TRACK_SECONDS, counted, face_ids, shares, summarize

settings = ui.setup_page(
    "Webcam", ":material/videocam:",
    "Press <b>Start</b> and allow the camera, or give a network camera's address: every face gets a live box "
    "and label, with its probabilities and a rolling timeline beside the video. Frames are processed on this "
    "computer and never stored.",
)
ui.legend()

ROLLING_SECONDS = 20.0
SILENT_SECONDS = 3.0  # no frame for this long: say that the picture is frozen

try:
    recognizer = resources.recognizer(settings)
except Exception as error:  # noqa: BLE001
    ui.show_error(error, "the model")
    st.stop()

session: LiveSession | None = st.session_state.get("webcam_session")
if session is None:
    session = LiveSession(recognizer)
    st.session_state["webcam_session"] = session
session.configure(recognizer)

history: LiveHistory = st.session_state.setdefault("webcam_history", LiveHistory())


class _Stopped:
    class state:  # noqa: N801 - mimics WebRtcStreamerContext.state
        playing = False
        signalling = False


# STUN/TURN servers: none on one machine; for a deployment, from secrets.toml or the environment
# (docs/dashboard.md, "Webcam from another machine").
try:
    ICE_SERVERS = rtc.ice_servers(secrets=rtc.streamlit_secrets())
except rtc.IceConfigError as error:
    ui.show_error(error, "the WebRTC settings")
    st.stop()

CAMERAS = ("This browser's camera", "A network camera")
streaming = bool(st.session_state.get("webcam_was_active"))  # the camera cannot change under a running stream
network = netcam.streams_allowed() and st.radio(
    "Camera", CAMERAS, horizontal=True, key="webcam_camera", disabled=streaming,
    help="A network camera is read by this dashboard's server: an IP camera's rtsp:// address, an MPEG-TS or HLS "
         "http(s):// stream, or rtmp://, udp://, tcp://, rtp://.") == CAMERAS[1]
checked: netcam.CameraCheck | None = None
if network:
    address = st.text_input("Camera address", key="webcam_address", placeholder=netcam.PLACEHOLDER,
                            disabled=streaming, help="Opened once to check it (up to 10 s), then read while the "
                            "stream plays. A password in it is shown as *** in the results and downloads.").strip()
    if address:
        checked = st.session_state.get("webcam_checked")
        if st.session_state.get("webcam_checked_address") != address:
            with st.spinner("Connecting to the camera..."):
                checked = netcam.check(address)
            st.session_state["webcam_checked"], st.session_state["webcam_checked_address"] = checked, address
    if checked is None:
        st.info("Type the camera's address and press Enter.", icon=":material/link:")
    elif checked.problem:
        st.error(checked.problem, icon=":material/videocam_off:")
        if st.button("Try again", key="webcam_retry", icon=":material/refresh:"):
            st.session_state.pop("webcam_checked_address", None)
            st.rerun()
    else:  # the box before START only; its slot stays, or the player below would move and lose its stream
        connected = st.empty()
        if not streaming and not (history.frames and history.source == checked.name):
            connected.success(f"Connected to `{checked.name}`: {checked.summary}. Press **START** to watch it live.",
                              icon=":material/videocam:")
source_name = checked.name if network and checked is not None else SOURCE
SAVE_FOLDER = batch_view.batch_root() / "live"
# A public deployment (FER_PUBLIC=1) saves nothing on the server: no toggle at all.
save = server_paths.server_paths_allowed() and st.toggle(
    "Save every row on this computer as it comes", key="webcam_save", disabled=streaming,
    help=f"A CSV in {SAVE_FOLDER} that grows during the session: it keeps every row of a long session "
         "(this page keeps the last 50,000), and keeps them if this tab is closed. Open it on the Batch "
         "page (Open a results table).")
if not streaming:  # fixed for the length of a session
    session.source, session.save_to = source_name, (SAVE_FOLDER if save else None)

left, right = st.columns([3, 2], gap="large")
with left:
    ctx = _Stopped()
    if not ui.in_browser():
        st.info("The live stream starts when the dashboard runs in a browser (`make run`).", icon=":material/videocam:")
    elif network:
        if checked is not None and checked.problem is None:
            try:
                ctx = webrtc_streamer(
                    key="network_camera",
                    mode=WebRtcMode.RECVONLY,
                    rtc_configuration=rtc.rtc_configuration(ICE_SERVERS),
                    player_factory=netcam.player_factory(address),
                    video_frame_callback=session.callback,
                    media_stream_constraints={"video": True, "audio": False},
                    async_processing=True,
                )
            except Exception as error:  # noqa: BLE001 - the camera went away after its check
                st.session_state.pop("webcam_checked_address", None)  # "Try again" checks it afresh
                ui.show_error(error if isinstance(error, FerError) else netcam.not_answering(checked.name))
                st.button("Try again", key="webcam_retry_start", icon=":material/refresh:")
    else:
        ctx = webrtc_streamer(
            key="webcam",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc.rtc_configuration(ICE_SERVERS),
            video_frame_callback=session.callback,
            media_stream_constraints={"video": True, "audio": False},
            async_processing=True,
        )
        problem = rtc.camera_problem()
        if problem and not ctx.state.playing:
            what, next_step = rtc.camera_help(problem)
            st.error(f"**{what}** {next_step}", icon=":material/videocam_off:")
            st.page_link("pages/2_Video.py", label="Analyse a video file instead", icon=":material/movie:")
    st.caption(("The server reads the camera's stream and sends it here annotated. " if network else
                "The browser asks once for the camera. ") + "The first start can take a few seconds; nothing is "
               f"recorded. Relay servers (STUN/TURN): {rtc.describe(ICE_SERVERS)}.")

active = bool(ctx.state.playing or ctx.state.signalling)
if active and not st.session_state.get("webcam_was_active"):
    history = st.session_state["webcam_history"] = LiveHistory(source=source_name)
st.session_state["webcam_was_active"] = active
if active != streaming:  # once more, so that the camera choice above is locked (or freed) at once
    st.rerun()
playing = bool(ctx.state.playing)


def live_charts(last, table) -> None:
    faces = sorted(last.faces, key=lambda f: f.track_id or 0)
    if faces:
        st.markdown("".join(ui.chip(f.smoothed_label, f.smoothed_confidence, prefix=f"#{f.track_id} ") for f in faces),
                    unsafe_allow_html=True)
        st.plotly_chart(charts.probability_bars(faces[0].probabilities, height=230),
                        key="live_prob", config={"displayModeBar": False}, width="stretch")
    else:
        st.info("No face in view.", icon=":material/face:")
    if len(table):
        face_id = faces[0].track_id if faces else int(table["face_id"].iloc[-1])
        recent = table[(table["face_id"] == face_id) & (table["time"] >= table["time"].max() - ROLLING_SECONDS)]
        if len(recent) > 1:
            st.plotly_chart(charts.emotion_timeline(recent, title=f"Face #{face_id}, last {ROLLING_SECONDS:.0f} s",
                                                    height=240, x_title="seconds", legend=False),
                            key="live_timeline", config={"displayModeBar": False}, width="stretch")


@st.fragment(run_every=0.5 if playing else None)
def live_panel() -> None:
    history.absorb(session.drain())
    last = history.last
    m1, m2, m3 = st.columns(3)
    m1.metric("Frame rate", f"{last.fps:.1f} fps" if last else "–")
    m2.metric("Processing", f"{last.processing_ms:.0f} ms" if last else "–", help="Time per frame for detection, "
              "tracking, classification and drawing.")
    m3.metric("Faces", len(last.faces) if last else 0)
    if last is None:
        st.info("Waiting for the first frame...", icon=":material/hourglass_top:")
        return
    if session.save_error:
        st.warning(f"Rows are no longer saved: {session.save_error}", icon=":material/save:")
    elif session.saved_path:
        st.caption(f"Saving every row to {session.saved_path}.")
    silent = session.seconds_since_last_frame() or 0.0
    if silent > SILENT_SECONDS:
        st.warning(f"No new frame for {silent:.0f} s: the camera has stopped sending, or its stream has ended. "
                   "Press **STOP** for the session's summary.", icon=":material/videocam_off:")
    live_charts(last, history.table().tail(3000))


with right:
    if playing:
        live_panel()
    elif not history.frames:
        st.markdown("##### How to use it")
        first = ("1. Type the camera's address above and press Enter, then press **START**.\n"
                 "2. Every face in the camera's picture gets a box and a label.\n" if network else
                 "1. Press **START** under the video area and allow the camera.\n"
                 "2. Look at the camera: a box and a label appear on every face.\n")
        st.markdown(first + "3. Press **STOP** to see a summary of the session.\n\n"
                    "The sidebar's detector, model and smoothing apply live.")

if not playing:
    history.absorb(session.drain())
    if session.frames:  # the next START gets a fresh tracker and smoother
        session.close()
        history.saved_path, history.save_error = session.saved_path, session.save_error
        st.session_state["webcam_session"] = LiveSession(recognizer)
    if history.frames:
        st.divider()
        st.subheader("Session summary")
        raw = history.table()  # every row, for the downloads; brief tracks marked short_track
        table = counted(raw)  # the faces that count, for the figures and charts
        fps = history.fps[len(history.fps) // 5:] or history.fps
        c = st.columns(4)
        c[0].metric("Frames processed", history.frames)
        c[1].metric("Average frame rate", f"{sum(fps) / max(len(fps), 1):.1f} fps")
        c[2].metric("Average processing", f"{sum(history.ms) / max(len(history.ms), 1):.0f} ms / frame")
        c[3].metric("Faces followed", len(face_ids(raw)),
                    help=f"Faces followed for at least {MIN_TRACK_FRAMES} frames and {MIN_TRACK_SECONDS:g} s; "
                         "briefer detections are left out (the downloads keep them, marked short_track).")
        if history.saved_path:
            st.caption(f"Every row of the session is in {history.saved_path}"
                       + (f" up to a problem: {history.save_error}" if history.save_error else "")
                       + ". Open it on the Batch page: Open a results table.")
        if history.dropped_rows and len(raw):
            st.info(f"The session ran longer than this page keeps: its first {history.dropped_rows:,} rows (faces "
                    f"before {raw['time'].min():.0f} s) are not in the summary or the downloads, which cover its last "
                    f"{history.max_rows:,} rows. For long sessions use the command line with --results FILE.csv, "
                    "which keeps every row.", icon=":material/history:")
        if len(table):
            per_face = summarize(table)
            a, b = st.columns([2, 3], gap="large")
            with a:
                st.markdown("##### Share of time")
                st.plotly_chart(charts.share_of_time(shares(summarize(table, by=()).iloc[0])),
                                key="webcam_share", config={"displayModeBar": False}, width="stretch")
                ui.chips([(str(row.dominant), None) for row in per_face.itertuples()])
                st.caption("Dominant emotion of each face: " + ", ".join(
                    f"#{row.face_id} {display_name(row.dominant)}" for row in per_face.itertuples()))
            with b:
                st.markdown("##### Emotion over time")
                main_face = int(per_face.sort_values("frames", ascending=False)["face_id"].iloc[0])
                st.plotly_chart(charts.emotion_timeline(table[table["face_id"] == main_face],
                                                        title=f"Face #{main_face}", x_title="seconds"),
                                key="webcam_session_timeline", config={"displayModeBar": False}, width="stretch")
        else:
            st.info(f"No face was seen during the session ({history.seconds:.0f} s).", icon=":material/face:")
        if len(raw):
            stem = "webcam_session" if history.source == SOURCE else "network_camera_session"
            files.download_buttons(raw, stem, "webcam", st.columns(4)[:3])

if session.errors:
    st.warning(f"{session.errors} frames could not be processed; last problem: {session.last_error}")
