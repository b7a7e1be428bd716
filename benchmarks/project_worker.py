"""The project's side of the video and photo measurements (used in-process by bench_video.py and
bench_photo.py, and as a subprocess by compare_fer.py, so both packages are measured the same way).

`python -m benchmarks.project_worker '{"photo": ..., "videos": [...], "modes": [...], "repeats": 3}'`
prints one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from benchmarks.common import ROOT  # noqa: F401  (puts the repo on sys.path)
from fer_core.settings import REALTIME, THOROUGH, Settings

# name -> the settings the recognizer is built with (analyze_video and analyze use the recognizer's settings)
MODES: dict[str, Settings] = {
    "default": REALTIME,  # what a user gets without options: YuNet at 320 px, in video detection on 1 frame in 5
    "thorough": THOROUGH,  # YuNet at 640 px on every analysed frame
    "haar": THOROUGH.replace(detector="haar"),  # the seed's Haar cascade at 640 px on every frame, as fer does
}
REFERENCE = "thorough"  # the full per-frame detect-and-classify run the default path is checked against


def recognizer_for(mode: str):
    from fer_core.pipeline import EmotionRecognizer

    return EmotionRecognizer(MODES[mode])


def frame_labels(analysis, column: str = "smoothed_label") -> list[list[str]]:
    """Per analysed frame, the labels of its faces left to right ([] for a frame without faces)."""
    out: list[list[str]] = [[] for _ in range(analysis.frames_decoded)]
    table = analysis.table.sort_values(["frame", "x"])
    for frame, label in zip(table["frame"], table[column]):
        out[int(frame)].append(str(label))
    return out


def agreement(a: list[list[str]], b: list[list[str]]) -> float:
    """Share of frames whose face labels (left to right, and so also the face count) are identical."""
    n = min(len(a), len(b))
    return round(sum(x == y for x, y in zip(a[:n], b[:n])) / n, 4) if n else float("nan")


def run_video(path: str, mode: str, repeats: int = 3, recognizer=None, prefetch: int = 8) -> dict[str, Any]:
    from fer_core.video import analyze_video

    recognizer = recognizer or recognizer_for(mode)
    runs, labels, raw = [], None, None
    for r in range(repeats):
        cpu = time.process_time()
        t = time.perf_counter()
        analysis = analyze_video(path, recognizer, prefetch=prefetch)
        elapsed = time.perf_counter() - t
        cpu = time.process_time() - cpu
        runs.append({"frames": analysis.frames_analysed, "seconds": round(elapsed, 3),
                     "fps": round(analysis.frames_analysed / elapsed, 2),
                     "cpu_seconds": round(cpu, 3), "fps_per_cpu": round(analysis.frames_analysed / cpu, 2),
                     "detector_runs": analysis.settings.get("detector_runs")})
        if r == 0:
            labels, raw = frame_labels(analysis, "smoothed_label"), frame_labels(analysis, "label")
    return {"mode": mode, "median_fps": round(statistics.median(x["fps"] for x in runs), 2), "runs": runs,
            "labels": labels, "raw_labels": raw}


def run_photo(path: str, mode: str, repeats: int = 30, recognizer=None) -> dict[str, Any]:
    from fer_core.io import load_image

    recognizer = recognizer or recognizer_for(mode)
    recognizer.analyze(load_image(path))  # warm-up
    times = []
    cpu = time.process_time()
    for _ in range(repeats):
        t = time.perf_counter()
        faces = recognizer.analyze(load_image(path))
        times.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu
    return {"mode": mode, "median_ms": round(statistics.median(times) * 1000, 3),
            "cpu_ms_per_photo": round(cpu * 1000 / repeats, 3),
            "all_ms": [round(x * 1000, 2) for x in times], "labels": [f.label for f in faces]}


def main() -> None:
    job = json.loads(sys.argv[1])
    t0 = time.perf_counter()
    # Start-up: the modules a video run needs, pandas included (the results table), as fer's start-up
    # includes its imports; otherwise the first timed video would pay for them.
    import pandas  # noqa: F401

    import fer_core.pipeline  # noqa: F401
    import fer_core.video  # noqa: F401

    out: dict[str, Any] = {"package": "emotion-recognition-fer", "startup_s": None, "photo": {}, "videos": {}}
    recognizers = {m: recognizer_for(m) for m in job["modes"]}
    out["startup_s"] = round(time.perf_counter() - t0, 3)
    if job.get("photo"):
        for mode in job.get("photo_modes", job["modes"]):
            out["photo"][mode] = run_photo(job["photo"], mode, job.get("photo_repeats", 30), recognizers.get(mode))
    for path in job.get("videos", []):
        out["videos"][path] = {m: run_video(path, m, job.get("repeats", 3), recognizers[m]) for m in job["modes"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
