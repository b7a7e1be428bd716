"""The project against the `fer` package (25.10.3) on the same inputs, side by side in one run, with the
project's DEFAULT settings (what a user gets without options).

    bash benchmarks/setup_fer_venv.sh          # once: benchmarks/.fer-venv with fer + tensorflow-cpu
    .venv/bin/python -m benchmarks.compare_fer [--rounds 3] [--quick]

Inputs: samples/videos/single_face.mp4 (every frame), a 640x360 20-second clip made at run time by
concatenating the sample videos (benchmarks/.cache/, not committed), and samples/photos/happy_posed.jpg
(512x512). Each side runs in its own process with its own Python (fer needs TensorFlow, the project must
not): benchmarks/fer_worker.py in the fer venv, benchmarks/project_worker.py in the project's .venv.
Rounds alternate fer, project, fer, project... so a background load hits both alike; the figures are
medians over all runs.

Two kinds of figure:
- in-process (`photo`, `videos`): one photo from file to labels (read, detect, crop, classify: the whole
  call), and every frame of a video labelled (decoding included), after each side has loaded its models.
  Besides wall time, each side's process CPU time (`ratio_cpu`), which other work on a shared machine
  distorts far less.
- whole process (`whole_process`): the command a new user types, timed from outside: `python
  emotion_recognition.py --input X` against benchmarks/fer_cli.py (fer's `FER().detect_emotions`), start-up
  and model loading included.
Prints JSON and writes benchmarks/results/compare_fer.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from benchmarks.common import (CACHE_DIR, FER_PYTHON, PHOTO, PROJECT_PYTHON, ROOT, SINGLE_FACE, load,
                               make_concat_clip, run_json, write_result)
from benchmarks.project_worker import MODES, REFERENCE, agreement

HEADLINE_MODE = "default"
PROJECT_MODES = ["default", "thorough", "haar"]
PHOTO_MODES = ["default", "thorough", "haar"]


def whole_process(cmd: list[str]) -> float:
    """Wall seconds of one complete process (output discarded)."""
    t = time.perf_counter()
    subprocess.run([str(c) for c in cmd], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=1800, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> dict:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating fer/project rounds (default 3)")
    parser.add_argument("--photo-repeats", type=int, default=20, help="photo runs per round and side")
    parser.add_argument("--quick", action="store_true", help="single_face.mp4 and the photo only, 1 round")
    args = parser.parse_args(argv)
    if not FER_PYTHON.exists():
        sys.exit(f"{FER_PYTHON} is missing: run `bash benchmarks/setup_fer_venv.sh` first.")

    clip = make_concat_clip(CACHE_DIR / "clip20_640x360.mp4", seconds=20, width=640, height=360)
    videos = [str(SINGLE_FACE)] + ([] if args.quick else [str(clip)])
    rounds = 1 if args.quick else args.rounds
    load_start = load()
    fer_runs, project_runs = [], []
    processes: dict[str, dict[str, list[float]]] = {}
    whole_inputs = {"photo": PHOTO, "clip20": clip if not args.quick else SINGLE_FACE}
    for r in range(rounds):
        job = {"photo": str(PHOTO), "videos": videos, "repeats": 1, "photo_repeats": args.photo_repeats}
        fer_runs.append(run_json([FER_PYTHON, "benchmarks/fer_worker.py", json.dumps(job)],
                                 env={"TF_CPP_MIN_LOG_LEVEL": "3"}))
        project_runs.append(run_json([PROJECT_PYTHON, "-m", "benchmarks.project_worker",
                                      json.dumps({**job, "modes": PROJECT_MODES, "photo_modes": PHOTO_MODES})]))
        for name, path in whole_inputs.items():
            entry = processes.setdefault(name, {"fer_s": [], "project_s": []})
            entry["fer_s"].append(whole_process([FER_PYTHON, "benchmarks/fer_cli.py", path]))
            entry["project_s"].append(whole_process([PROJECT_PYTHON, "emotion_recognition.py", "--input", path]))
        print(f"round {r + 1}/{rounds} done, load {load()}", file=sys.stderr)

    def med(values):
        return round(statistics.median(values), 2)

    result = {"inputs": {"photo": str(PHOTO.relative_to(ROOT)), "videos": {}}, "rounds": rounds,
              "load_at_start": load_start, "videos": {}, "photo": {}}
    for path in videos:
        name = path.rsplit("/", 1)[-1]
        fer_fps = med([run["videos"][path]["runs"][0]["fps"] for run in fer_runs])
        modes = {m: med([run["videos"][path][m]["runs"][0]["fps"] for run in project_runs]) for m in PROJECT_MODES}
        first = project_runs[0]["videos"][path]
        ref = first[REFERENCE]
        result["inputs"]["videos"][name] = ("sample" if path == str(SINGLE_FACE) else "made at run time: 20 s, 640x360, "
                                            "24 fps, the sample videos concatenated and letterboxed")
        result["videos"][name] = {
            "frames": first[HEADLINE_MODE]["runs"][0]["frames"],
            "fer_fps": fer_fps,
            "project_fps": modes[HEADLINE_MODE],
            "ratio": round(modes[HEADLINE_MODE] / fer_fps, 2),
            "project_fps_by_mode": modes,
            "ratio_by_mode": {m: round(v / fer_fps, 2) for m, v in modes.items()},
            "default_vs_thorough_label_agreement": {
                "smoothed_labels": agreement(first[HEADLINE_MODE]["labels"], ref["labels"]),
                "raw_labels": agreement(first[HEADLINE_MODE]["raw_labels"], ref["raw_labels"]),
            },
            "fer_vs_project_thorough_label_agreement": agreement(fer_runs[0]["videos"][path]["labels"], ref["raw_labels"]),
            "default_detector_runs": first[HEADLINE_MODE]["runs"][0]["detector_runs"],
            "fer_fps_per_cpu_second": med([run["videos"][path]["runs"][0]["fps_per_cpu"] for run in fer_runs]),
            "project_fps_per_cpu_second": med([run["videos"][path][HEADLINE_MODE]["runs"][0]["fps_per_cpu"]
                                               for run in project_runs]),
            "fer_fps_runs": [run["videos"][path]["runs"][0]["fps"] for run in fer_runs],
            "project_fps_runs": [run["videos"][path][HEADLINE_MODE]["runs"][0]["fps"] for run in project_runs],
        }
        v = result["videos"][name]
        v["ratio_cpu"] = round(v["project_fps_per_cpu_second"] / v["fer_fps_per_cpu_second"], 2)
    fer_ms = med([x for run in fer_runs for x in run["photo"]["all_ms"]])
    photo_modes = {m: med([x for run in project_runs for x in run["photo"][m]["all_ms"]]) for m in PHOTO_MODES}
    fer_cpu = med([run["photo"]["cpu_ms_per_photo"] for run in fer_runs])
    project_cpu = med([run["photo"][HEADLINE_MODE]["cpu_ms_per_photo"] for run in project_runs])
    result["photo"] = {
        "fer_ms": fer_ms,
        "project_ms": photo_modes[HEADLINE_MODE],
        "ratio": round(fer_ms / photo_modes[HEADLINE_MODE], 2),
        "project_ms_by_mode": photo_modes,
        "ratio_by_mode": {m: round(fer_ms / v, 2) for m, v in photo_modes.items()},
        "fer_cpu_ms": fer_cpu, "project_cpu_ms": project_cpu, "ratio_cpu": round(fer_cpu / project_cpu, 2),
        "labels": {"fer": fer_runs[0]["photo"]["labels"],
                   **{m: project_runs[0]["photo"][m]["labels"] for m in PHOTO_MODES}},
    }
    result["whole_process"] = {
        name: {"input": str(whole_inputs[name].relative_to(ROOT)), "fer_s": med(d["fer_s"]),
               "project_s": med(d["project_s"]), "ratio": round(med(d["fer_s"]) / med(d["project_s"]), 2),
               "fer_runs_s": [round(x, 2) for x in d["fer_s"]], "project_runs_s": [round(x, 2) for x in d["project_s"]]}
        for name, d in processes.items()
    }
    result["startup_s"] = {"fer": med([r["startup_s"] for r in fer_runs]),
                           "project": med([r["startup_s"] for r in project_runs])}
    result["modes"] = {
        "default": f"fer_core.settings.REALTIME, the defaults: {MODES['default'].to_dict()}",
        "thorough": f"fer_core.settings.THOROUGH, YuNet at 640 px on every frame (the reference for label "
                    f"agreement): {MODES['thorough'].to_dict()}",
        "haar": "THOROUGH with the Haar cascade (the seed's detector, the one fer uses)",
        "fer": "fer.fer.FER(mtcnn=False).detect_emotions per frame, frames from cv2.VideoCapture",
    }
    result["targets"] = {
        "video_fps_at_least_5x_fer": all(v["ratio"] >= 5 for v in result["videos"].values()),
        "labels_agree_95pct": all(v["default_vs_thorough_label_agreement"]["smoothed_labels"] >= 0.95
                                  for v in result["videos"].values()),
        "photo_at_least_3x_faster": result["photo"]["ratio"] >= 3,
    }
    return write_result("compare_fer", result)


if __name__ == "__main__":
    main()
