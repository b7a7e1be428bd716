"""Webcam page: the live stream with boxes and labels, live probabilities, a rolling timeline, fps."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from dashboard import charts, files, resources, ui
from dashboard.live import LiveSession
from fer_core.emotions import EMOTIONS, display_name

settings = ui.setup_page(
    "Webcam", ":material/videocam:",
    "Press <b>Start</b> and allow the camera: every face gets a live box and label, with its probabilities "
    "and a rolling timeline beside the video. Frames are processed on this computer and never stored.",
)
ui.legend()

# Same machine: no STUN/TURN server is needed (and none is contacted). For access from another machine
# see the README: serve over HTTPS and pass a STUN/TURN server in RTC_CONFIGURATION.
RTC_CONFIGURATION = {"iceServers": []}
ROLLING_SECONDS = 20.0
MAX_ROWS = 50_000

try:
    recognizer = resources.recognizer(settings)
except Exception as error:  # noqa: BLE001
    ui.show_error(error, "the model")
    st.stop()

session: LiveSession | None = st.session_state.get("webcam_session")
if session is None:
    session = LiveSession(recognizer, smoothing=settings.smoothing)
    st.session_state["webcam_session"] = session
session.configure(recognizer, settings.smoothing)


def new_history() -> dict:
    return {"rows": [], "fps": [], "ms": [], "last": None, "frames": 0}


history: dict = st.session_state.setdefault("webcam_history", new_history())


def absorb(current: LiveSession) -> None:
    """Move the callback's queued results into this session's history (script thread only)."""
    for update in current.drain():
        history["frames"] += 1
        history["fps"].append(update.fps)
        history["ms"].append(update.processing_ms)
        history["last"] = update
        for face in update.faces:
            history["rows"].append({"time": round(update.time, 3), **face})
    if len(history["rows"]) > MAX_ROWS:
        del history["rows"][: len(history["rows"]) - MAX_ROWS]
    for key in ("fps", "ms"):
        if len(history[key]) > MAX_ROWS:
            del history[key][: len(history[key]) - MAX_ROWS]


def real_runtime() -> bool:
    """False under `streamlit.testing` (AppTest), whose mocked runtime the WebRTC component cannot use."""
    from streamlit.runtime.runtime import Runtime

    try:
        return getattr(Runtime.instance(), "_session_mgr", None) is not None
    except (RuntimeError, AttributeError):
        return False


class _Stopped:
    class state:  # noqa: N801 - mimics WebRtcStreamerContext.state
        playing = False
        signalling = False


left, right = st.columns([3, 2], gap="large")
with left:
    if not real_runtime():
        ctx = _Stopped()
        st.info("The live stream starts when the dashboard runs in a browser (`make run`).", icon=":material/videocam:")
    else:
        ctx = webrtc_streamer(
            key="webcam",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=RTC_CONFIGURATION,
            video_frame_callback=session.callback,
            media_stream_constraints={"video": True, "audio": False},
            async_processing=True,
        )
    st.caption("The browser asks once for the camera. The first start can take a few seconds; nothing is recorded.")

active = bool(ctx.state.playing or ctx.state.signalling)
if active and not st.session_state.get("webcam_was_active"):
    history = st.session_state["webcam_history"] = new_history()
st.session_state["webcam_was_active"] = active
playing = bool(ctx.state.playing)


def live_charts(faces: list[dict], rows: list[dict]) -> None:
    if faces:
        face = faces[0]
        st.markdown(ui.chip(face["label"], face["confidence"], prefix=f"#{face['face_id']} ")
                    + "".join(ui.chip(f["label"], f["confidence"], prefix=f"#{f['face_id']} ") for f in faces[1:]),
                    unsafe_allow_html=True)
        st.plotly_chart(charts.probability_bars({e: face[e] for e in EMOTIONS}, height=230),
                        key="live_prob", config={"displayModeBar": False}, width="stretch")
    else:
        st.info("No face in view.", icon=":material/face:")
    if rows:
        frame = pd.DataFrame(rows)
        face_id = faces[0]["face_id"] if faces else frame["face_id"].iloc[-1]
        recent = frame[(frame["face_id"] == face_id) & (frame["time"] >= frame["time"].max() - ROLLING_SECONDS)]
        if len(recent) > 1:
            st.plotly_chart(charts.emotion_timeline(recent, title=f"Face #{face_id}, last {ROLLING_SECONDS:.0f} s",
                                                    height=240, x_title="seconds", legend=False),
                            key="live_timeline", config={"displayModeBar": False}, width="stretch")


@st.fragment(run_every=0.5 if playing else None)
def live_panel() -> None:
    absorb(session)
    last = history["last"]
    m1, m2, m3 = st.columns(3)
    m1.metric("Frame rate", f"{last.fps:.1f} fps" if last else "–")
    m2.metric("Processing", f"{last.processing_ms:.0f} ms" if last else "–", help="Time per frame for detection, "
              "tracking, classification and drawing.")
    m3.metric("Faces", len(last.faces) if last else 0)
    if last is None:
        st.info("Waiting for the first frame...", icon=":material/hourglass_top:")
        return
    live_charts(last.faces, history["rows"][-3000:])


with right:
    if playing:
        live_panel()
    elif not history["frames"]:
        st.markdown("##### How to use it")
        st.markdown(
            "1. Press **START** under the video area and allow the camera.\n"
            "2. Look at the camera: a box and a label appear on every face.\n"
            "3. Press **STOP** to see a summary of the session.\n\n"
            "The sidebar's detector, model and smoothing apply live."
        )

if not playing:
    absorb(session)
    if session.frames:  # the next START gets a fresh tracker and smoother
        st.session_state["webcam_session"] = LiveSession(recognizer, smoothing=settings.smoothing)
    if history["frames"]:
        st.divider()
        st.subheader("Session summary")
        rows = pd.DataFrame(history["rows"])
        duration = float(rows["time"].max() - rows["time"].min()) if len(rows) else 0.0
        c = st.columns(4)
        c[0].metric("Frames processed", history["frames"])
        c[1].metric("Average frame rate", f"{pd.Series(history['fps']).iloc[len(history['fps']) // 5:].mean():.1f} fps")
        c[2].metric("Average processing", f"{pd.Series(history['ms']).mean():.0f} ms / frame")
        c[3].metric("Faces followed", int(rows["face_id"].nunique()) if len(rows) else 0)
        if len(rows):
            shares = rows["label"].value_counts(normalize=True)
            a, b = st.columns([2, 3], gap="large")
            with a:
                st.markdown("##### Share of time")
                st.plotly_chart(charts.share_of_time({e: float(shares.get(e, 0.0)) for e in EMOTIONS}),
                                key="webcam_share", config={"displayModeBar": False}, width="stretch")
                dominant = rows.groupby("face_id")["label"].agg(lambda s: s.value_counts().idxmax())
                ui.chips([(str(label), None) for label in dominant])
                st.caption("Dominant emotion of each face: " + ", ".join(
                    f"#{fid} {display_name(lbl)}" for fid, lbl in dominant.items()))
            with b:
                st.markdown("##### Emotion over time")
                main_face = rows["face_id"].value_counts().idxmax()
                st.plotly_chart(charts.emotion_timeline(rows[rows["face_id"] == main_face],
                                                        title=f"Face #{main_face}", x_title="seconds"),
                                key="webcam_session_timeline", config={"displayModeBar": False}, width="stretch")
            d1, _ = st.columns([1, 3])
            d1.download_button("Session timeline (CSV)", files.csv_bytes(rows), "webcam_session.csv", "text/csv",
                               key="webcam_dl_csv", on_click="ignore", width="stretch", icon=":material/table:")
        else:
            st.info(f"No face was seen during the session ({duration:.0f} s).", icon=":material/face:")

if session.errors:
    st.warning(f"{session.errors} frames could not be processed; last problem: {session.last_error}")
