"""Classifier throughput: faces per second at batch 1 and batch 32 (TFLite via ai-edge-litert).

    .venv/bin/python -m benchmarks.bench_classifier

The faces are real 48x48 FER2013 crops from samples/fer2013_mini, prepared exactly as the pipeline does
(64x64 grey in [-1, 1]); only the classifier call is timed.
"""

from __future__ import annotations

import statistics
import time

import cv2
import numpy as np

from benchmarks.common import SAMPLES, load, stats_ms, write_result


def faces_batch(n: int, size: int) -> np.ndarray:
    from fer_core.preprocess import prepare_face

    paths = sorted((SAMPLES / "fer2013_mini").rglob("*.png")) + sorted((SAMPLES / "fer2013_mini").rglob("*.jpg"))
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
    images = [im for im in images if im is not None]
    return np.stack([prepare_face(images[i % len(images)], size) for i in range(n)])


def main(argv=None) -> dict:
    from fer_core.classifier import EmotionClassifier

    load_start = load()
    classifier = EmotionClassifier()
    size = classifier.input_size
    result = {"model": classifier.spec.name, "input": f"{size}x{size}x1", "load_at_start": load_start, "batches": {}}
    for batch_size, calls in ((1, 600), (32, 60)):
        batch = faces_batch(batch_size, size)
        classifier.predict(batch)  # resize and allocate once
        times = []
        cpu = time.thread_time()
        for _ in range(calls):
            t = time.perf_counter()
            classifier.predict(batch)
            times.append(time.perf_counter() - t)
        cpu = time.thread_time() - cpu
        per_call = statistics.median(times)
        result["batches"][str(batch_size)] = {
            "faces_per_second": round(batch_size / per_call, 1),
            "ms_per_face": round(per_call * 1000 / batch_size, 4),
            "faces_per_cpu_second": round(batch_size * calls / cpu, 1),
            "call": stats_ms(times),
        }
    tta = EmotionClassifier(tta=True)
    batch = faces_batch(1, size)
    tta.predict(batch)
    times = [0.0] * 300
    for i in range(300):
        t = time.perf_counter()
        tta.predict(batch)
        times[i] = time.perf_counter() - t
    result["batches"]["1_tta"] = {"faces_per_second": round(1 / statistics.median(times), 1), "call": stats_ms(times)}
    result["headline"] = {
        "faces_per_second_batch_1": result["batches"]["1"]["faces_per_second"],
        "faces_per_second_batch_32": result["batches"]["32"]["faces_per_second"],
        "faces_per_cpu_second_batch_1": result["batches"]["1"]["faces_per_cpu_second"],
        "faces_per_cpu_second_batch_32": result["batches"]["32"]["faces_per_cpu_second"],
    }
    return write_result("bench_classifier", result)


if __name__ == "__main__":
    main()
