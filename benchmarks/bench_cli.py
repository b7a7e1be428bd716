"""The CLI's whole-process time on one photo: `python emotion_recognition.py --input photo` (target < 1.5 s).

    .venv/bin/python -m benchmarks.bench_cli [--repeats 7]

Wall time of the complete process (interpreter start-up, imports, model and detector loading, the photo,
output) with the defaults (YuNet), the Haar cascade, --json and the thorough preset, median over repeated runs
after one warm-up run; also `python -c pass` and the import of fer_core alone, to show where the time goes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from benchmarks.common import PHOTO, PROJECT_PYTHON, ROOT, load, write_result


def wall(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {proc.stderr[-1000:]}")
    return elapsed, proc.stdout.strip()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    python = str(PROJECT_PYTHON if PROJECT_PYTHON.exists() else sys.executable)
    commands = {
        "cli_photo": [python, "emotion_recognition.py", "--input", str(PHOTO)],
        "cli_photo_haar": [python, "emotion_recognition.py", "--input", str(PHOTO), "--detector", "haar"],
        "cli_photo_json": [python, "emotion_recognition.py", "--input", str(PHOTO), "--json"],
        "cli_photo_thorough": [python, "emotion_recognition.py", "--input", str(PHOTO), "--preset", "thorough"],
        "python_startup": [python, "-c", "pass"],
        "import_fer_core": [python, "-c", "import fer_core.pipeline, fer_core.cli"],
        "import_and_load_model": [python, "-c", "from fer_core import EmotionRecognizer; EmotionRecognizer()"],
    }
    load_start = load()
    result = {"load_at_start": load_start, "photo": PHOTO.name, "runs": {}}
    for name, cmd in commands.items():
        wall(cmd)  # warm-up (file cache)
        times, output = [], ""
        for _ in range(args.repeats):
            elapsed, output = wall(cmd)
            times.append(elapsed)
        result["runs"][name] = {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
                                "max_s": round(max(times), 3), "command": " ".join(cmd[1:]),
                                "output_first_line": output.splitlines()[0] if output else ""}
    tf_imported = subprocess.run(
        [python, "-c", "import sys, fer_core.cli, fer_core.pipeline, fer_core.video; "
                       "from fer_core import EmotionRecognizer; EmotionRecognizer(); "
                       "print('tensorflow' in sys.modules)"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    result["tensorflow_imported_by_cli_path"] = tf_imported == "True"
    result["headline"] = {"cli_photo_s": result["runs"]["cli_photo"]["median_s"],
                          "cli_photo_haar_s": result["runs"]["cli_photo_haar"]["median_s"],
                          "target_s": 1.5, "met": result["runs"]["cli_photo"]["median_s"] < 1.5}
    return write_result("bench_cli", result)


if __name__ == "__main__":
    main()
