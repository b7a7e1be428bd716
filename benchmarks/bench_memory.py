"""Peak memory over a 10-minute video (made at run time by looping single_face.mp4): RSS must stay flat.

    .venv/bin/python -m benchmarks.bench_memory [--minutes 10]

The video (640x360, 30 fps, 18000 frames; benchmarks/.cache/, not committed) is made by repeating the
sample's packets, so it costs no encoding. A fresh process runs fer_core.video.analyze_video on it with
the default settings, every frame labelled, and reports its resident set size (VmRSS) at 10% steps of the
video and its peak (VmHWM). The results table (one row per face per frame) is the only thing that grows with
the video's length, by design; the bytes per row are reported.
"""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks.common import CACHE_DIR, PROJECT_PYTHON, load, make_looped_video, run_json, write_result


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def child(path: str) -> None:
    import gc
    import time

    from fer_core.pipeline import EmotionRecognizer
    from fer_core.video import analyze_video, probe_video

    info = probe_video(path)
    recognizer = EmotionRecognizer()  # the default settings
    samples = [{"frame": 0, "rss_mb": rss_mb()}]
    step = max(1, info.frame_count // 10)

    def progress(done: int, total: int) -> bool:
        if done % step == 0:
            samples.append({"frame": done, "rss_mb": rss_mb()})
        return True

    t = time.perf_counter()
    analysis = analyze_video(path, recognizer, progress=progress)
    seconds = time.perf_counter() - t
    gc.collect()
    table_mb = analysis.table.memory_usage(deep=True).sum() / 2**20
    print(json.dumps({
        "video": {"frames": info.frame_count, "duration_s": info.duration, "size": f"{info.width}x{info.height}"},
        "frames_analysed": analysis.frames_analysed, "seconds": round(seconds, 1),
        "fps": round(analysis.frames_analysed / seconds, 1),
        "rss_samples": samples, "rss_after_mb": rss_mb(), "peak_rss_mb": rss_mb("VmHWM"),
        "table_rows": len(analysis.table), "table_mb": round(table_mb, 1),
    }))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return {}
    load_start = load()
    video = make_looped_video(CACHE_DIR / f"loop_{args.minutes:g}min.mp4", seconds=args.minutes * 60)
    data = run_json([PROJECT_PYTHON if PROJECT_PYTHON.exists() else sys.executable, "-m", "benchmarks.bench_memory",
                     "--child", str(video)], timeout=3600)
    rss = [s["rss_mb"] for s in data["rss_samples"]]
    after_first_tenth = rss[1:] or rss
    data["rss_growth_after_first_10pct_mb"] = round(max(after_first_tenth) - min(after_first_tenth), 1)
    data["table_bytes_per_row"] = round(data["table_mb"] * 2**20 / max(1, data["table_rows"]))
    result = {"load_at_start": load_start, "minutes": args.minutes, "mode": "default settings, every frame", **data}
    result["headline"] = {"peak_rss_mb": data["peak_rss_mb"], "rss_mb_at_10pct_steps": rss,
                          "frames": data["frames_analysed"]}
    return write_result("bench_memory", result)


if __name__ == "__main__":
    main()
