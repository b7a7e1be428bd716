"""The `fer` package's side of compare_fer.py; runs in benchmarks/.fer-venv (see setup_fer_venv.sh).

Reads a JSON job from argv[1], prints one JSON object. Only the fer package, OpenCV and numpy are used:
frames come from cv2.VideoCapture (as fer's own Video class reads them) and go to
`FER(mtcnn=False).detect_emotions(frame)` one by one, every frame.
"""

import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402


def labels_of(faces):
    faces = sorted(faces, key=lambda f: f["box"][0])
    return [max(f["emotions"], key=f["emotions"].get) for f in faces]


def main():
    job = json.loads(sys.argv[1])
    t0 = time.perf_counter()
    from fer.fer import FER

    detector = FER(mtcnn=False)
    startup = time.perf_counter() - t0
    out = {"package": "fer", "version": None, "startup_s": round(startup, 3), "photo": {}, "videos": {}}
    try:
        from importlib.metadata import version

        out["version"] = version("fer")
    except Exception:  # noqa: BLE001
        pass

    photo = job["photo"]
    detector.detect_emotions(cv2.imread(photo))  # warm-up
    times = []
    cpu = time.process_time()
    for _ in range(job.get("photo_repeats", 30)):
        t = time.perf_counter()
        faces = detector.detect_emotions(cv2.imread(photo))
        times.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu
    out["photo"] = {"path": photo, "median_ms": round(statistics.median(times) * 1000, 3),
                    "cpu_ms_per_photo": round(cpu * 1000 / len(times), 3),
                    "all_ms": [round(x * 1000, 2) for x in times], "labels": labels_of(faces)}

    for path in job["videos"]:
        runs = []
        labels = None
        for r in range(job.get("repeats", 3)):
            cap = cv2.VideoCapture(path)
            frames = 0
            per_frame = []
            cpu = time.process_time()
            t = time.perf_counter()
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                faces = detector.detect_emotions(frame)
                frames += 1
                if r == 0:
                    per_frame.append(labels_of(faces))
            elapsed = time.perf_counter() - t
            cpu = time.process_time() - cpu
            cap.release()
            runs.append({"frames": frames, "seconds": round(elapsed, 3), "fps": round(frames / elapsed, 2),
                         "cpu_seconds": round(cpu, 3), "fps_per_cpu": round(frames / cpu, 2)})
            if r == 0:
                labels = per_frame
        fps = [x["fps"] for x in runs]
        out["videos"][path] = {"median_fps": round(statistics.median(fps), 2), "runs": runs, "labels": labels}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
