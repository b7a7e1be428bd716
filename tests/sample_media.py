"""Paths to the real sample media in the repo (a plain module: `conftest` names clash across test folders)."""

import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "samples" / "photos"
VIDEOS = ROOT / "samples" / "videos"
FER_MINI = ROOT / "samples" / "fer2013_mini"


STALL_SECONDS = 30


@dataclass
class StreamServer:
    """A local HTTP server of `single_face.mp4` as a live MPEG-TS stream (`serve_stream`)."""

    url: str                 # base URL: {url}/single_face.ts, {url}/stalled.ts
    stalled: threading.Event  # set once /stalled.ts has sent all it will send
    server: ThreadingHTTPServer


def serve_stream(folder: Path) -> StreamServer:
    """single_face.mp4 as an MPEG-TS stream (what HLS and many cameras send) on a local HTTP server, which
    FFmpeg reads as it reads any stream, without seeking. Its clock starts at 10 s, as a live stream's clock
    starts wherever it is. `/stalled.ts` sends the first half of the stream, then nothing for STALL_SECONDS,
    as a camera that drops off the network."""
    import av

    with av.open(str(VIDEOS / "single_face.mp4")) as source, \
            av.open(str(folder / "single_face.ts"), "w", format="mpegts") as target:
        video = source.streams.video[0]
        rate = video.average_rate
        stream = target.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        for i, decoded in enumerate(source.decode(video=0)):
            frame = av.VideoFrame.from_ndarray(decoded.to_ndarray(format="bgr24"), format="bgr24")
            frame.pts, frame.time_base = 10 * int(rate) + i, Fraction(1, int(rate))
            target.mux(stream.encode(frame))
        target.mux(stream.encode())
    stalled = threading.Event()

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/stalled.ts":
                return super().do_GET()
            data = (folder / "single_face.ts").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2 // 188 * 188])  # whole 188-byte MPEG-TS packets
            self.wfile.flush()
            stalled.set()
            time.sleep(STALL_SECONDS)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return StreamServer(f"http://127.0.0.1:{server.server_address[1]}", stalled, server)
