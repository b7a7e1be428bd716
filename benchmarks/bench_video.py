"""Video frames analysed per second on the sample videos (every frame), per mode, with label agreement
against the full per-frame run, the effect of the decoding thread, and a per-frame profile.

    .venv/bin/python -m benchmarks.bench_video [--repeats 3]

Modes (benchmarks/project_worker.py): `default` is fer_core.settings.REALTIME, the defaults (YuNet on a
320-px copy of every 5th frame, tracking and EMA in between); `thorough` (YuNet at 640 px) and `haar`
(the Haar cascade at 640 px) detect on every frame. All go through fer_core.video.analyze_video, so
decoding, the results table and tracking are included. `agreement_vs_thorough` is the share of frames
whose face labels (left to right) equal those of the thorough run, for the smoothed labels and for the raw
per-frame labels.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.common import CACHE_DIR, SAMPLE_VIDEOS, load, make_concat_clip, write_result
from benchmarks.project_worker import REFERENCE, agreement, recognizer_for, run_video

MODES = ["default", "thorough", "haar"]


def profile(path: str, recognizer, frames_max: int = 300) -> dict:
    """Where the time goes per frame (CPU ms of this thread, medians), step by step, for the default path."""
    from fer_core.stream import FrameProcessor
    from fer_core.video import iter_frames

    steps: dict[str, list[float]] = {k: [] for k in ("decode_bgr", "detect_320", "detect_640", "crop", "classify",
                                                      "default_process_total")}
    processor = FrameProcessor(recognizer)
    gen = iter_frames(path)
    clock = time.thread_time
    for i in range(frames_max):
        t = clock()
        try:
            frame = next(gen).image
        except StopIteration:
            break
        steps["decode_bgr"].append(clock() - t)
        t = clock()
        boxes = recognizer.detect(frame, width=640)
        steps["detect_640"].append(clock() - t)
        t = clock()
        recognizer.detect(frame, width=320)
        steps["detect_320"].append(clock() - t)
        if boxes:
            t = clock()
            crops = recognizer.crops(frame, boxes)
            steps["crop"].append(clock() - t)
            t = clock()
            recognizer.classify_crops(crops)
            steps["classify"].append(clock() - t)
        t = clock()
        processor.process(frame)
        steps["default_process_total"].append(clock() - t)
    gen.close()
    out = {k: round(statistics.median(v) * 1000, 3) for k, v in steps.items() if v}
    out["default_detector_runs_share"] = round(processor.detections / max(1, len(steps["default_process_total"])), 3)
    out["default_process_mean_ms"] = round(float(np.mean(steps["default_process_total"])) * 1000, 3)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    load_start = load()
    clip = make_concat_clip(CACHE_DIR / "clip20_640x360.mp4", seconds=20, width=640, height=360)
    videos = [str(p) for p in SAMPLE_VIDEOS] + [str(clip)]
    recognizers = {m: recognizer_for(m) for m in MODES}
    result = {"load_at_start": load_start, "videos": {}}
    for path in videos:
        name = path.rsplit("/", 1)[-1]
        runs = {m: run_video(path, m, args.repeats, recognizers[m]) for m in MODES}
        no_thread = run_video(path, "default", args.repeats, recognizers["default"], prefetch=0)
        ref = runs[REFERENCE]
        result["videos"][name] = {
            "frames": runs["default"]["runs"][0]["frames"],
            "fps": {m: r["median_fps"] for m, r in runs.items()},
            "fps_per_cpu_second": {m: round(statistics.median(x["fps_per_cpu"] for x in r["runs"]), 2)
                                   for m, r in runs.items()},
            "default_without_decode_thread_fps": no_thread["median_fps"],
            "default_detector_runs": runs["default"]["runs"][0]["detector_runs"],
            "agreement_vs_thorough": {
                m: {"smoothed": agreement(r["labels"], ref["labels"]), "raw": agreement(r["raw_labels"], ref["raw_labels"])}
                for m, r in runs.items() if m != REFERENCE
            },
        }
    result["profile_default_single_face_cpu_ms"] = profile(str(SAMPLE_VIDEOS[0]), recognizers["default"])
    result["profile_default_clip20_cpu_ms"] = profile(str(clip), recognizers["default"], frames_max=480)
    single = result["videos"]["single_face.mp4"]
    result["headline"] = {
        "single_face_fps": single["fps"],
        "clip20_fps": result["videos"][clip.name]["fps"],
        "min_default_agreement_smoothed": min(v["agreement_vs_thorough"]["default"]["smoothed"] for v in result["videos"].values()),
        "min_default_agreement_raw": min(v["agreement_vs_thorough"]["default"]["raw"] for v in result["videos"].values()),
    }
    return write_result("bench_video", result)


if __name__ == "__main__":
    main()
