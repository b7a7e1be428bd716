"""Video frames analysed per second on the sample videos (every frame), per mode, with label agreement
against the full per-frame run, the effect of the decoding thread, and a per-frame profile.

    .venv/bin/python -m benchmarks.bench_video [--repeats 3]

Modes (benchmarks/project_worker.py): haar_full and yunet_full detect on every frame; fast is
fer_core.stream.FAST_PRESET (YuNet on a 320-px copy of every 5th frame, tracking and EMA in between).
All go through fer_core.video.analyze_video, so decoding, the timeline and tracking are included.
`agreement_vs_yunet_full` is the share of frames whose face labels (left to right) equal those of the
yunet_full run, for the smoothed labels and for the raw per-frame labels.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.common import CACHE_DIR, SAMPLE_VIDEOS, load, make_concat_clip, write_result
from benchmarks.project_worker import REFERENCE, agreement, recognizer_for, run_video

MODES = ["fast", "yunet_full", "haar_full"]


def profile(path: str, recognizer, frames_max: int = 300) -> dict:
    """Where the time goes per frame (CPU ms of this thread, medians), step by step, for the fast path."""
    import cv2

    from fer_core.stream import FAST_PRESET, FrameProcessor
    from fer_core.video import iter_frames

    steps: dict[str, list[float]] = {k: [] for k in ("decode_bgr", "detect_320", "detect_full", "crop", "classify",
                                                      "track_smooth_results", "fast_process_total")}
    processor = FrameProcessor.fast(recognizer)
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
        boxes = recognizer.detect(frame)
        steps["detect_full"].append(clock() - t)
        small = cv2.resize(frame, (FAST_PRESET["detect_width"], round(frame.shape[0] * FAST_PRESET["detect_width"] / frame.shape[1])),
                           interpolation=cv2.INTER_AREA)
        t = clock()
        recognizer.detect(small)
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
        total = clock() - t
        steps["fast_process_total"].append(total)
    gen.close()
    out = {k: round(statistics.median(v) * 1000, 3) for k, v in steps.items() if v}
    detect_share = processor.detections / max(1, len(steps["fast_process_total"]))
    out["fast_detector_runs_share"] = round(detect_share, 3)
    out["fast_process_mean_ms"] = round(float(np.mean(steps["fast_process_total"])) * 1000, 3)
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
        no_thread = run_video(path, "fast", args.repeats, recognizers["fast"], prefetch=0)
        ref = runs[REFERENCE]
        result["videos"][name] = {
            "frames": runs["fast"]["runs"][0]["frames"],
            "fps": {m: r["median_fps"] for m, r in runs.items()},
            "fps_per_cpu_second": {m: round(statistics.median(x["fps_per_cpu"] for x in r["runs"]), 2)
                                   for m, r in runs.items()},
            "fast_without_decode_thread_fps": no_thread["median_fps"],
            "fast_detector_runs": runs["fast"]["runs"][0]["detector_runs"],
            "agreement_vs_yunet_full": {
                m: {"smoothed": agreement(r["labels"], ref["labels"]), "raw": agreement(r["raw_labels"], ref["raw_labels"])}
                for m, r in runs.items() if m != REFERENCE
            },
        }
    result["profile_fast_single_face_cpu_ms"] = profile(str(SAMPLE_VIDEOS[0]), recognizers["yunet_full"])
    result["profile_fast_clip20_cpu_ms"] = profile(str(clip), recognizers["yunet_full"], frames_max=480)
    single = result["videos"]["single_face.mp4"]
    result["headline"] = {
        "single_face_fps": single["fps"],
        "clip20_fps": result["videos"][clip.name]["fps"],
        "min_fast_agreement_smoothed": min(v["agreement_vs_yunet_full"]["fast"]["smoothed"] for v in result["videos"].values()),
        "min_fast_agreement_raw": min(v["agreement_vs_yunet_full"]["fast"]["raw"] for v in result["videos"].values()),
    }
    return write_result("bench_video", result)


if __name__ == "__main__":
    main()
