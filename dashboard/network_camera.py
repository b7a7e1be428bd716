"""A network camera as the Webcam page's live source: an IP camera's rtsp:// address, an MPEG-TS or HLS
http(s):// one, or any other `fer_core.io.STREAM_SCHEMES` address.

The server reads the stream (aiortc's `MediaPlayer`, on the FFmpeg inside PyAV), each frame goes through
the same `LiveSession.callback` as the browser's own camera, and the annotated frames reach the browser
over WebRTC (streamlit-webrtc in RECVONLY mode, with `player_factory`). Why the server: a browser cannot open
rtsp:// at all, and the frames have to reach the model on the server anyway. The address is opened once
(`check`) before START is offered, so a wrong address or a camera that does not answer is one sentence on
the page instead of a black video.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from fer_core.errors import FerError
from fer_core.io import stream_name, url_scheme
from fer_core.video import VideoInfo, probe_video

from .server_paths import public

PLACEHOLDER = "rtsp://user:password@192.168.1.20/stream1"
PLAYER_TIMEOUT = 5
"""Seconds the player waits for the camera at START (and between frames): within the 10 s that
streamlit-webrtc gives the whole start, so a camera that stopped answering is named, not a timeout."""
STREAMS_SETTING = "FER_NETWORK_STREAMS"


def streams_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the pages may open network addresses (the Video page's "Network stream", the Webcam page's
    network camera). On by default; `FER_NETWORK_STREAMS=off` turns both off, and so does the public switch
    (`FER_PUBLIC=1`, `server_paths.public`): they would let any visitor make the server connect to any address
    it can reach."""
    env = os.environ if environ is None else environ
    if public(env):
        return False
    return env.get(STREAMS_SETTING, "on").strip().lower() not in ("off", "0", "false", "no")


@dataclass(frozen=True)
class CameraCheck:
    """What opening the address once found: its size and rate, or the one sentence saying why not."""

    name: str  # the address with its secrets as *** (`fer_core.io.stream_name`): what the page shows and saves
    info: VideoInfo | None = None
    problem: str | None = None

    @property
    def summary(self) -> str:
        if self.info is None:
            return ""
        rate = f" at {self.info.fps:g} fps" if self.info.fps else ""
        return f"{self.info.width}x{self.info.height}{rate}"


def check(address: str) -> CameraCheck:
    """Open the stream once (up to `STREAM_TIMEOUT` seconds) and read its size and rate. Only addresses are
    opened: a path would make the server read its own files."""
    address = address.strip()
    if not url_scheme(address):
        return CameraCheck(address, problem="Give the camera's address, such as " + PLACEHOLDER + ".")
    name = stream_name(address)
    try:
        return CameraCheck(name, probe_video(address))
    except FerError as error:
        return CameraCheck(name, problem=str(error))


def player_factory(address: str) -> Callable[[], Any]:
    """streamlit-webrtc's `player_factory`: a fresh reader of the stream for each START. A camera that
    answered the check but not now raises a FerError that names it with its secrets as ***: FFmpeg's own
    message holds the whole address, password included."""

    def create() -> Any:
        try:
            return _video_only_player(address.strip())
        except Exception:  # noqa: BLE001 - any failure to open is the same sentence to the user
            raise not_answering(stream_name(address)) from None

    return create


def _video_only_player(address: str) -> Any:
    """aiortc's `MediaPlayer` without the camera's sound: the browser's own camera is asked for video only,
    and so is a network camera (streamlit-webrtc's page would otherwise play its microphone). MediaPlayer
    has no option for it, so the audio track and stream it found are dropped before it starts decoding; an
    audio track merely left unread would queue its decoded sound in memory for as long as the stream runs."""
    from aiortc.contrib.media import MediaPlayer

    player = MediaPlayer(address, timeout=PLAYER_TIMEOUT)
    streams = player._MediaPlayer__streams  # noqa: SLF001 - see the docstring
    streams[:] = [stream for stream in streams if stream.type == "video"]
    player._MediaPlayer__audio = None  # noqa: SLF001
    return player


def not_answering(name: str) -> FerError:
    """The one sentence for a camera that passed the check but could not be played."""
    return FerError(f"The camera {name} did not answer when START was pressed; check it and press Try again.")
