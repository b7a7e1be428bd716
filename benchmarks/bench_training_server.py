"""What one Training-page run leaves in the server: webcam frame times and the process's RSS, before and after a
1-epoch fine-tune on the bundled sample (70 faces), trained in the server process itself (as the page did
before issue 27) and in a child process (`fer_core.training.job`, as the page does now).

    .venv/bin/python -m benchmarks.bench_training_server [--loops 2]

Each way runs in a fresh Python process standing in for the server: it builds the default recognizer, times
the Webcam page's per-frame callback (LiveFrameProcessor, 640x480 frames delivered at 30 fps, as
bench_webcam.py), trains, times the callback again, and reads its RSS (VmRSS) at each step.
Results: benchmarks/results/bench_training_server.json and a figure, benchmarks/results/bench_training_server.svg.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS_DIR, ROOT, load, write_result


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def one_way(way: str, loops: int) -> dict:
    """In this process: webcam timing and RSS, a training run `way` ("in_process" or "child"), again."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from benchmarks.bench_webcam import make_callback, measure, webcam_frames
    from fer_core.pipeline import EmotionRecognizer
    from fer_core.stream import LiveFrameProcessor
    from fer_core.training import TrainConfig

    frames = webcam_frames(loops)
    recognizer = EmotionRecognizer()
    before = measure(make_callback(LiveFrameProcessor(recognizer)), frames)
    rss_before = rss_mb()
    work = Path(tempfile.mkdtemp(prefix="fer-bench-train-"))
    cfg = TrainConfig(data=str(ROOT / "samples" / "fer2013_mini"), val_split=0.2, name="bench", out=str(work / "bench"),
                      finetune="mini_xception_wide48", freeze_blocks=2, epochs=1, batch_size=32, lr=3e-4,
                      augment="light", warmup_epochs=0, patience=0, checkpoint_dir=str(work / "ckpt"), verbose=0)
    t = time.perf_counter()
    if way == "in_process":
        from fer_core.training import train

        train(cfg)
    else:
        from dashboard.jobs import ChildJob
        from fer_core.training.job import read_events, write_spec

        write_spec(work / "job", cfg, None)
        job = ChildJob.start("fer_core.training.job", work / "job")
        while job.running:
            time.sleep(0.2)
        assert read_events(work / "job")[-1]["event"] == "done", (work / "job" / "log.txt").read_text()[-2000:]
    train_seconds = time.perf_counter() - t
    rss_trained = rss_mb()
    after = measure(make_callback(LiveFrameProcessor(recognizer)), frames)
    return {"way": way, "train_seconds": round(train_seconds, 1), "rss_before_mb": rss_before,
            "rss_after_mb": rss_trained, "rss_added_mb": round(rss_trained - rss_before, 1),
            "tensorflow_in_server": "tensorflow" in sys.modules, "webcam_before": before, "webcam_after": after}


def figure(results: list[dict], path: Path) -> None:
    """Two bar charts as a plain SVG (no plotting library needed): webcam p95 and RSS, before and after."""
    names = {"in_process": "trained in the server (before)", "child": "trained in a child (now)"}
    panels = [("Webcam frame, p95 (ms)", lambda r, w: r[f"webcam_{w}"]["p95_ms"]),
              ("Server RSS (MB)", lambda r, w: r[f"rss_{w}_mb"])]
    width, height, top, bottom = 360, 260, 40, 200
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height}" '
             'font-family="sans-serif" font-size="11">', '<rect width="100%" height="100%" fill="white"/>']
    for p, (title, value) in enumerate(panels):
        x0 = p * width
        peak = max(value(r, w) for r in results for w in ("before", "after")) or 1
        parts.append(f'<text x="{x0 + width / 2}" y="20" text-anchor="middle" font-size="13">{title}</text>')
        for i, r in enumerate(results):
            gx = x0 + 40 + i * 160
            for j, (when, colour) in enumerate((("before", "#7aa6a6"), ("after", "#c8553d"))):
                v = value(r, when)
                h = (bottom - top) * v / peak
                parts.append(f'<rect x="{gx + j * 60}" y="{bottom - h:.1f}" width="50" height="{h:.1f}" fill="{colour}"/>')
                parts.append(f'<text x="{gx + j * 60 + 25}" y="{bottom - h - 4:.1f}" text-anchor="middle">{v:g}</text>')
                parts.append(f'<text x="{gx + j * 60 + 25}" y="{bottom + 14}" text-anchor="middle">{when}</text>')
            parts.append(f'<text x="{gx + 55}" y="{bottom + 32}" text-anchor="middle">{names[r["way"]]}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=2, help="passes over the 72-frame sample clip per timing")
    parser.add_argument("--way", choices=["in_process", "child"], help=argparse.SUPPRESS)  # one way, in this process
    args = parser.parse_args(argv)
    if args.way:
        print(json.dumps(one_way(args.way, args.loops)))
        return {}
    load_start = load()
    results = []
    for way in ("in_process", "child"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_training_server", "--way", way, "--loops",
                              str(args.loops)], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    figure(results, RESULTS_DIR / "bench_training_server.svg")
    return write_result("bench_training_server", {
        "what": "webcam callback (LiveFrameProcessor, 640x480 at 30 fps) and process RSS before and after a 1-epoch "
                "fine-tune of mini_xception_wide48 on the 70-face sample, trained in the process or in a child",
        "command": "python -m benchmarks.bench_training_server --loops " + str(args.loops),
        "load_at_start": load_start, "results": results})


if __name__ == "__main__":
    main()
