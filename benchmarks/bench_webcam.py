"""The webcam page's per-frame callback at 640x480: p50/p95/p99 time (target p95 < 15 ms).

    .venv/bin/python -m benchmarks.bench_webcam [--loops 4]

Frames: samples/videos/single_face.mp4 resized to 640x480, played `loops` times in a row (about 290
frames, each wrapped in an av.VideoFrame as streamlit-webrtc delivers them), one callback per frame in a
single thread: av frame -> BGR array -> FrameProcessor -> boxes and labels drawn -> av frame.
Frames are delivered at 30 fps like a camera. Configurations:
- default_live_yunet: LiveFrameProcessor with the default settings: YuNet on a 320x240 copy of every 5th
  frame in a background thread, the callback only crops, classifies, smooths and draws (the Webcam page);
- default_yunet: FrameProcessor, the same with detection inside the callback on every 5th frame;
- yunet_every_frame / haar_every_frame: the detector on every frame at 640 px (what the defaults avoid);
- dashboard_live_session*: the dashboard's own dashboard.live.LiveSession.callback.
Timings are wall clock per callback (what decides dropped frames) and the thread's CPU time.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import cv2

from benchmarks.common import SINGLE_FACE, load, percentile, write_result


def webcam_frames(loops: int):
    import av

    from fer_core.video import iter_frames

    images = [cv2.resize(f.image, (640, 480), interpolation=cv2.INTER_LINEAR) for f in iter_frames(SINGLE_FACE)]
    frames = []
    for i in range(loops * len(images)):
        frame = av.VideoFrame.from_ndarray(images[i % len(images)], format="bgr24")
        frame.pts, frame.time_base = i, Fraction(1, 30)
        frames.append(frame)
    return frames


def make_callback(processor):
    import av

    from fer_core.annotate import draw_faces

    def callback(frame):
        image = frame.to_ndarray(format="bgr24")
        faces = processor.process(image)
        callback.with_face += bool(faces)
        out = av.VideoFrame.from_ndarray(draw_faces(image, faces, copy=False), format="bgr24")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    callback.with_face = 0
    return callback


def measure(callback, frames, warmup: int = 10, fps: float = 30.0) -> dict:
    """Frames delivered at `fps` like a camera (a callback that overruns just delays the next one)."""
    for frame in frames[:warmup]:
        callback(frame)
    wall, cpu = [], []
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        delay = start + i / fps - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        c, t = time.thread_time(), time.perf_counter()
        callback(frame)
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    return {
        "p50_ms": round(percentile(wall, 0.50), 2), "p95_ms": round(percentile(wall, 0.95), 2),
        "p99_ms": round(percentile(wall, 0.99), 2), "max_ms": round(max(wall), 2),
        "mean_ms": round(sum(wall) / len(wall), 2),
        "cpu_p50_ms": round(percentile(cpu, 0.50), 2), "cpu_p95_ms": round(percentile(cpu, 0.95), 2),
        "frames": len(frames), "fps_capacity": round(1000 * len(wall) / sum(wall), 1),
        "over_33ms": sum(w > 1000 / fps for w in wall),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=4)
    args = parser.parse_args(argv)
    from fer_core.pipeline import EmotionRecognizer
    from fer_core.settings import REALTIME, THOROUGH
    from fer_core.stream import FrameProcessor, LiveFrameProcessor

    load_start = load()
    frames = webcam_frames(args.loops)
    yunet, haar = EmotionRecognizer(), EmotionRecognizer(detector="haar")
    configs = {
        "default_live_yunet": lambda: make_callback(LiveFrameProcessor(yunet)),
        "default_yunet": lambda: make_callback(FrameProcessor(yunet)),
        "yunet_every_frame": lambda: make_callback(FrameProcessor(yunet, THOROUGH, max_missed=15)),
        "haar_every_frame": lambda: make_callback(FrameProcessor(haar, THOROUGH.replace(detector="haar"), max_missed=15)),
        "default_haar": lambda: make_callback(FrameProcessor(haar)),
    }
    result = {"load_at_start": load_start, "frame_size": "640x480", "preset": REALTIME.to_dict(), "callbacks": {}}
    for name, build in configs.items():
        callback = build()
        result["callbacks"][name] = measure(callback, frames)
        result["callbacks"][name]["frames_with_a_face"] = round(callback.with_face / (len(frames) + 10), 3)
    from dashboard.live import LiveSession

    for name, recognizer in (("dashboard_live_session_yunet", yunet), ("dashboard_live_session_haar", haar)):
        session = LiveSession(recognizer)
        result["callbacks"][name] = measure(session.callback, frames)
        session.close()
    live, fast = result["callbacks"]["default_live_yunet"], result["callbacks"]["default_yunet"]
    result["headline"] = {"p95_ms": live["p95_ms"], "p50_ms": live["p50_ms"], "p95_ms_detect_in_callback": fast["p95_ms"],
                          "target_p95_ms": 15, "met": live["p95_ms"] < 15}
    return write_result("bench_webcam", result)


if __name__ == "__main__":
    main()
