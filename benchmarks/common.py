"""Shared helpers: timing statistics, machine description, results files, test media made at run time."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = BENCH_DIR / ".cache"  # generated media; gitignored
SAMPLES = ROOT / "samples"
PHOTO = SAMPLES / "photos" / "happy_posed.jpg"  # 512x512, one face
SINGLE_FACE = SAMPLES / "videos" / "single_face.mp4"  # 640x360, 72 frames
SAMPLE_VIDEOS = [
    SAMPLES / "videos" / "single_face.mp4",
    SAMPLES / "videos" / "face_noface.mov",
    SAMPLES / "videos" / "noface_face.mov",
    SAMPLES / "videos" / "no_face.mp4",
]
FER_PYTHON = BENCH_DIR / ".fer-venv" / "bin" / "python"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load() -> list[float]:
    """1, 5 and 15 minute load averages (the machine has other work on it: read figures with this)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_at_end": load(),
    }


def stats_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p95 and spread of a list of durations in seconds, in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        return {}
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(p95, 3),
        "min_ms": round(ms[0], 3),
        "max_ms": round(ms[-1], 3),
        "n": len(ms),
    }


def percentile(values: Sequence[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))] if v else float("nan")


def repeat(fn: Callable[[], Any], n: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def write_result(name: str, data: dict[str, Any], quiet: bool = False) -> dict[str, Any]:
    """Add the machine and time, write benchmarks/results/<name>.json and print the JSON."""
    data = {"benchmark": name, **data, "machine": machine(),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, default=str)
    (RESULTS_DIR / f"{name}.json").write_text(text + "\n")
    if not quiet:
        print(text)
    return data


# ---- media made at run time (never committed) -------------------------------------------------------

def make_concat_clip(path: Path, seconds: float = 20.0, width: int = 640, height: int = 360, fps: int = 24,
                     sources: Iterable[Path] | None = None) -> Path:
    """A clip of `seconds` made by concatenating the sample videos (resized to width x height), looped.

    The default mixes a face that stays (single_face.mp4) with faces that leave and come back (the .mov
    samples), so the fast path's re-detection is exercised too. Re-encoded as H.264 (like a phone clip).
    """
    import av
    import cv2

    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    sources = list(sources or SAMPLE_VIDEOS[:3])
    total = int(round(seconds * fps))
    tmp = path.with_suffix(".part" + path.suffix)
    out = av.open(str(tmp), mode="w")
    stream = out.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"crf": "23", "preset": "veryfast"}
    written = 0
    while written < total:
        for src in sources:
            with av.open(str(src)) as container:
                for frame in container.decode(video=0):
                    image = frame.to_ndarray(format="bgr24")
                    if image.shape[:2] != (height, width):
                        image = _letterbox(image, width, height, cv2)
                    for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                        out.mux(packet)
                    written += 1
                    if written >= total:
                        break
            if written >= total:
                break
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    tmp.rename(path)
    return path


def _letterbox(image, width, height, cv2):
    import numpy as np

    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = int(round(w * scale)), int(round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    canvas[y0:y0 + nh, x0:x0 + nw] = resized
    return canvas


def make_looped_video(path: Path, seconds: float, source: Path = SINGLE_FACE) -> Path:
    """A long video made by repeating `source`'s packets (no re-encoding: fast, and bit-identical loops).

    Each loop starts on the source's first (key) frame, so the result decodes cleanly.
    """
    import av

    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as probe:
        vs = probe.streams.video[0]
        loop_duration = None
        packets = []
        for packet in probe.demux(vs):
            if packet.dts is None and packet.pts is None:
                continue
            packets.append((packet.pts, packet.dts, packet.duration, packet.is_keyframe, bytes(packet)))
        time_base = vs.time_base
        last = max(p[0] for p in packets if p[0] is not None)
        step = packets[1][2] or (packets[1][0] - packets[0][0]) if len(packets) > 1 else 1
        loop_duration = last - min(p[0] for p in packets if p[0] is not None) + (packets[-1][2] or step)
        tmp = path.with_suffix(".part" + path.suffix)
        out = av.open(str(tmp), mode="w")
        ostream = out.add_stream_from_template(vs)
        loops = max(1, int(round(seconds / float(loop_duration * time_base))))
        for i in range(loops):
            offset = i * loop_duration
            for pts, dts, duration, key, data in packets:
                pkt = av.Packet(data)
                pkt.stream = ostream
                pkt.time_base = time_base
                pkt.pts = None if pts is None else pts + offset
                pkt.dts = None if dts is None else dts + offset
                if duration:
                    pkt.duration = duration
                pkt.is_keyframe = key
                out.mux(pkt)
        out.close()
    tmp.rename(path)
    return path


def run_json(cmd: Sequence[str], timeout: float = 1800, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a worker that prints one JSON object as its last stdout line."""
    proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    lines = [l for l in proc.stdout.splitlines() if l.strip().startswith("{")]
    return json.loads(lines[-1])


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Ask a child process to end (SIGTERM), and kill it if it has not within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_idle(page, timeout: float = 30.0, quiet: float = 0.8) -> None:
    """Until a Streamlit script run is over (a Playwright page): while a run lasts the status widget shows
    ("Running...") and the elements of the run before that the new one has not yet replaced carry
    data-stale="true" (so a locator could find an old and a new copy of one element). Wait until neither is
    on the page, for `quiet` seconds in a row: a run that a click asked for may start a moment later."""
    busy = page.locator('[data-testid="stStatusWidget"], [data-stale="true"]')
    deadline = time.time() + timeout
    quiet_since = None
    while time.time() < deadline:
        if busy.count():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > quiet:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the page kept running")
