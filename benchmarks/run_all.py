"""Every benchmark in turn (`make bench` = `.venv/bin/python -m benchmarks.run_all`); each writes
benchmarks/results/<name>.json, and a summary of the headline figures goes to benchmarks/results/summary.json.

    .venv/bin/python -m benchmarks.run_all [--skip compare_fer,bench_dashboard] [--quick]

compare_fer and compare_accuracy need benchmarks/.fer-venv (bash benchmarks/setup_fer_venv.sh); they are
skipped with a note when that is missing (compare_accuracy also needs data/PublicTest: `make data`). One
failing benchmark is reported and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback

from benchmarks.common import FER_PYTHON, RESULTS_DIR, load, write_result

ORDER = ["bench_classifier", "bench_photo", "bench_cli", "bench_webcam", "bench_video", "compare_fer",
         "compare_accuracy", "bench_memory", "bench_dashboard", "bench_server", "eye_levelling", "bench_batch"]
QUICK_ARGS = {"bench_photo": ["--repeats", "10"], "bench_cli": ["--repeats", "3"], "bench_video": ["--repeats", "1"],
              "compare_fer": ["--rounds", "1"], "bench_memory": ["--minutes", "2"], "bench_dashboard": ["--runs", "1"],
              "bench_webcam": ["--loops", "2"], "eye_levelling": ["--limit", "500"],
              "bench_server": ["--idle", "10", "--users", "1,2"], "bench_batch": ["--quick"]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip", default="", help="comma-separated benchmark names to skip")
    parser.add_argument("--only", default="", help="comma-separated benchmark names to run")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run, not for the README)")
    args = parser.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    only = [s for s in args.only.split(",") if s] or ORDER
    summary: dict = {"load_at_start": load(), "results": {}, "skipped": {}, "failed": {}}
    if args.only and (RESULTS_DIR / "summary.json").exists():
        # a partial run updates the benchmarks it ran and keeps the others' last figures (each entry is dated)
        summary["results"] = json.loads((RESULTS_DIR / "summary.json").read_text()).get("results", {})
    for name in only:
        if name in skip:
            summary["skipped"][name] = "--skip"
            continue
        if name in ("compare_fer", "compare_accuracy") and not FER_PYTHON.exists():
            summary["skipped"][name] = "benchmarks/.fer-venv missing: run bash benchmarks/setup_fer_venv.sh"
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        t = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            data = module.main(QUICK_ARGS.get(name, []) if args.quick else [])
            summary["results"][name] = {"headline": data.get("headline", {k: data[k] for k in ("videos", "photo", "targets") if k in data}),
                                        "seconds": round(time.perf_counter() - t, 1),
                                        "measured_at": data.get("measured_at")}
            if name == "compare_fer":
                summary["results"][name]["headline"] = {
                    "videos": {v: {k: d[k] for k in ("fer_fps", "project_fps", "ratio", "ratio_cpu",
                                                      "default_vs_thorough_label_agreement")}
                               for v, d in data["videos"].items()},
                    "photo": {k: data["photo"][k] for k in ("fer_ms", "project_ms", "ratio", "ratio_cpu", "project_ms_by_mode", "ratio_by_mode")},
                    "whole_process": {k: {m: d[m] for m in ("fer_s", "project_s", "ratio")}
                                      for k, d in data["whole_process"].items()},
                    "targets": data["targets"],
                }
        except SystemExit as error:
            summary["failed"][name] = f"exited: {error}"
        except Exception as error:  # noqa: BLE001 - report and go on
            summary["failed"][name] = f"{type(error).__name__}: {error}"
            traceback.print_exc()
    print(json.dumps(summary["results"], indent=2), file=sys.stderr)
    return write_result("summary", summary, quiet=False)


if __name__ == "__main__":
    main()
