"""Accuracy against the `fer` package on the same faces: FER2013 PublicTest (3,589 crops), every model role here.

    make data                                  # once: data/PublicTest from ../shared/data
    bash benchmarks/setup_fer_venv.sh          # once: benchmarks/.fer-venv with fer + tensorflow-cpu
    .venv/bin/python -m benchmarks.compare_accuracy

`fer` classifies with the 2017 Mini-XCEPTION (its default is a quantized TFLite copy; the Keras original is
the file this project ships as `mini_xception_fer2013`). benchmarks/fer_accuracy_worker.py runs fer's own
classifier call in the fer venv, on each crop prepared as fer prepares a detected face. This project's
models run through `fer_core.evaluate`, as `python -m fer_core.evaluate data/PublicTest --model ROLE` does.
Detection is left out on both sides: the crops are whole faces, so the figures compare the classifiers.

`deepface` and `py-feat` are not compared: both download their weights at first use (from GitHub and the
Hugging Face hub), which an offline machine cannot do.

Writes benchmarks/results/compare_accuracy.json.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks.common import CACHE_DIR, FER_PYTHON, ROOT, load, run_json, write_result

DEFAULT_DATA = ROOT / "data" / "PublicTest"
PROJECT_MODELS = ["default", "accurate", "best", "mini_xception_fer2013"]  # default is also `fast`


def summary(accuracy: float, per_class: dict[str, dict[str, float]]) -> dict:
    recalls = {name: c["recall"] for name, c in per_class.items()}
    return {"accuracy": round(accuracy, 4), "mean_class_recall": round(float(np.mean(list(recalls.values()))), 4),
            "recall": recalls}


def main(argv: list[str] | None = None) -> dict:
    from fer_core.emotions import EMOTIONS
    from fer_core.errors import DatasetError
    from fer_core.evaluate import evaluate, labelled_images, metrics
    from fer_core.models import resolve
    from fer_core.pipeline import EmotionRecognizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a folder of class folders (default data/PublicTest)")
    args = parser.parse_args(argv)
    if not FER_PYTHON.exists():
        sys.exit(f"{FER_PYTHON} is missing: run `bash benchmarks/setup_fer_venv.sh` first.")
    try:
        items = list(labelled_images(args.data))
    except DatasetError:
        items = []
    if not items:
        sys.exit(f"{args.data} has no face crops in class folders: run `make data` first.")

    load_start = load()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    job = CACHE_DIR / "accuracy_job.json"
    job.write_text(json.dumps({"paths": [str(path) for path, _ in items]}))
    truth = np.array([label for _, label in items])
    fer = run_json([FER_PYTHON, ROOT / "benchmarks" / "fer_accuracy_worker.py", job])
    to_ours = np.array([EMOTIONS.index(name) for name in fer["labels"]])  # fer's label order -> ours

    classifiers: dict[str, dict] = {}
    for name, side in fer["classifiers"].items():
        predicted = to_ours[np.array(side["predictions"])]
        accuracy, per_class, _ = metrics(truth, predicted, list(EMOTIONS))
        classifiers[f"{name}, fer {fer['version']}"] = summary(accuracy, per_class)
    for role in PROJECT_MODELS:
        result = evaluate(args.data, EmotionRecognizer(model=role))
        label = role if role == resolve(role) else f"{role} ({resolve(role)})"
        classifiers[f"this project: {label}"] = summary(result.accuracy, result.per_class)

    fer_default = next(v["accuracy"] for k, v in classifiers.items() if k.startswith("fer default"))
    headline = {name: {"accuracy": c["accuracy"], "points_over_fer": round(100 * (c["accuracy"] - fer_default), 2)}
                for name, c in classifiers.items()}
    return write_result("compare_accuracy", {"data": str(args.data), "faces": len(items), "load_at_start": load_start,
                                             "classifiers": classifiers, "headline": headline})


if __name__ == "__main__":
    main()
