"""One photo end to end: read the file, detect, crop, classify (median ms over repeated runs).

    .venv/bin/python -m benchmarks.bench_photo [--repeats 30]

samples/photos/happy_posed.jpg (512x512, one face) and the 1000x667 multi-face photo, in each mode;
the recognizer is built once (as the dashboard and a folder run do). For the whole-process time of the
CLI, including Python start-up and imports, see bench_cli.py; for the side-by-side figure against the
`fer` package, compare_fer.py.
"""

from __future__ import annotations

import argparse

from benchmarks.common import PHOTO, SAMPLES, load, write_result
from benchmarks.project_worker import recognizer_for, run_photo

PHOTOS = [PHOTO, SAMPLES / "photos" / "unlabelled_multi_face.jpg"]
MODES = ["default", "thorough", "haar"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    load_start = load()
    recognizers = {m: recognizer_for(m) for m in MODES}
    result = {"load_at_start": load_start, "photos": {}}
    for photo in PHOTOS:
        entry = {}
        for mode in MODES:
            run = run_photo(str(photo), mode, args.repeats, recognizers[mode])
            entry[mode] = {"median_ms": run["median_ms"], "faces": len(run["labels"]), "labels": run["labels"]}
        result["photos"][photo.name] = entry
    result["modes"] = {"default": "the defaults: YuNet on a 320-px-wide copy, a second look at 640 px when no face is found",
                       "thorough": "YuNet at 640 px (no downscale for a 512 photo)",
                       "haar": "the Haar cascade at 640 px (the seed's detector)"}
    result["headline"] = {f"{PHOTO.name}_{m}_ms": result["photos"][PHOTO.name][m]["median_ms"] for m in MODES}
    return write_result("bench_photo", result)


if __name__ == "__main__":
    main()
