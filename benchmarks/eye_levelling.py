"""Do eye-levelled crops classify better than upright ones? Measured on the project's labelled data.

    .venv/bin/python -m benchmarks.eye_levelling [--limit N]

The same detector boxes are cropped two ways, upright and turned so the eyes (YuNet's landmarks) are level,
and classified with the default model; everything else is equal. Inputs:

1. `photos`: the labelled sample photos (samples/photos, label = start of the file name; the two unlabelled
   ones are left out), through the default settings' detection.
2. `video`: samples/videos/single_face.mp4, whose face is neutral for the first half second and smiling
   after 1.5 s (the labels the tests use); every frame, detection at 640 px, no smoothing (the per-frame
   label).
3. `fer2013_publictest`: the 3,589 labelled FER2013 PublicTest faces (data/PublicTest, `make data`). Each
   48x48 face is enlarged 4x and set in a 320x320 frame (edges repeated) so that YuNet can find it and
   give landmarks; faces it does not find are counted and left out of both arms.
4. `fer2013_publictest_tilted`: the same faces turned by 10-20 degrees (a random side each, fixed seed)
   before detection: heads that lean, which FER2013's registered faces rarely do.

Reports accuracy, the mean probability of the true class, and how many labels change, per input and arm,
with the median absolute eye-line angle. Writes benchmarks/results/eye_levelling.json. The default
(`fer_core.settings.LEVEL_EYES_DEFAULT`) is on only if levelling is at least as good on inputs 1-3.
"""

from __future__ import annotations

import argparse
import statistics

import cv2
import numpy as np

from benchmarks.common import ROOT, SAMPLES, load, write_result

PUBLIC_TEST = ROOT / "data" / "PublicTest"


def _arms(recognizer, frame: np.ndarray, boxes, truth: int) -> dict[str, np.ndarray]:
    return {arm: recognizer.classify_crops(recognizer.crops(frame, boxes, level_eyes=arm == "levelled"))
            for arm in ("upright", "levelled")}


class Tally:
    """Per arm: predictions, true-class probabilities; plus the eye-line angles seen."""

    def __init__(self) -> None:
        self.pred: dict[str, list[int]] = {"upright": [], "levelled": []}
        self.p_true: dict[str, list[float]] = {"upright": [], "levelled": []}
        self.truth: list[int] = []
        self.angles: list[float] = []
        self.missed = 0

    def add(self, probs: dict[str, np.ndarray], truth: int, angle: float) -> None:
        self.truth.append(truth)
        self.angles.append(abs(angle))
        for arm, p in probs.items():
            self.pred[arm].append(int(np.argmax(p)))
            self.p_true[arm].append(float(p[truth]))

    def report(self) -> dict:
        truth = np.array(self.truth)
        out: dict = {"n": len(truth), "no_face_found": self.missed,
                     "median_abs_eye_angle_deg": round(statistics.median(self.angles), 2) if self.angles else None}
        for arm in ("upright", "levelled"):
            pred = np.array(self.pred[arm])
            out[arm] = {"accuracy": round(float((pred == truth).mean()), 4) if len(truth) else None,
                        "correct": int((pred == truth).sum()),
                        "mean_true_class_probability": round(float(np.mean(self.p_true[arm])), 4) if len(truth) else None}
        up, lev = np.array(self.pred["upright"]), np.array(self.pred["levelled"])
        out["labels_changed"] = int((up != lev).sum())
        out["fixed_by_levelling"] = int(((up != truth) & (lev == truth)).sum())
        out["broken_by_levelling"] = int(((up == truth) & (lev != truth)).sum())
        out["accuracy_gain_points"] = round(100 * (out["levelled"]["accuracy"] - out["upright"]["accuracy"]), 2) if len(truth) else None
        return out


def photos(recognizer) -> dict:
    from fer_core.emotions import EMOTIONS
    from fer_core.io import load_image

    tally = Tally()
    names = []
    for path in sorted((SAMPLES / "photos").iterdir()):
        label = path.stem.split("_")[0]
        if label not in EMOTIONS:
            continue
        image = load_image(path)
        boxes = recognizer.find_faces(image)
        if not boxes:
            tally.missed += 1
            continue
        box = max(boxes, key=lambda b: b.area)
        truth = EMOTIONS.index(label)
        probs = _arms(recognizer, image, [box], truth)
        tally.add({arm: p[0] for arm, p in probs.items()}, truth, box.roll_degrees)
        names.append({"photo": path.name, "eye_angle_deg": round(box.roll_degrees, 1),
                      **{arm: EMOTIONS[int(np.argmax(p[0]))] for arm, p in probs.items()}})
    return {**tally.report(), "per_photo": names}


def video(recognizer) -> dict:
    from fer_core.emotions import EMOTIONS
    from fer_core.video import iter_frames

    tally = Tally()
    for frame in iter_frames(SAMPLES / "videos" / "single_face.mp4"):
        if 0.5 <= frame.time <= 1.5:  # the change of expression: no agreed label
            continue
        truth = EMOTIONS.index("neutral" if frame.time < 0.5 else "happy")
        boxes = recognizer.detect(frame.image, width=640)
        if not boxes:
            tally.missed += 1
            continue
        probs = _arms(recognizer, frame.image, boxes[:1], truth)
        tally.add({arm: p[0] for arm, p in probs.items()}, truth, boxes[0].roll_degrees)
    return tally.report()


def fer2013(recognizer, limit: int | None, tilt: bool, seed: int = 0) -> dict:
    from fer_core.emotions import EMOTIONS
    from fer_core.evaluate import labelled_images
    from fer_core.io import load_image
    from fer_core.preprocess import to_gray

    rng = np.random.default_rng(seed)
    tally = Tally()
    items = list(labelled_images(PUBLIC_TEST))
    if limit:
        items = [items[i] for i in sorted(rng.choice(len(items), size=min(limit, len(items)), replace=False))]
    for path, truth in items:
        face = cv2.resize(to_gray(load_image(path)), (192, 192), interpolation=cv2.INTER_CUBIC)
        frame = cv2.copyMakeBorder(face, 64, 64, 64, 64, cv2.BORDER_REPLICATE)
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        if tilt:
            degrees = float(rng.uniform(10, 20) * rng.choice([-1, 1]))
            matrix = cv2.getRotationMatrix2D((160, 160), degrees, 1.0)
            frame = cv2.warpAffine(frame, matrix, (320, 320), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        boxes = recognizer.detect(frame, width=None)
        if not boxes:
            tally.missed += 1
            continue
        box = max(boxes, key=lambda b: b.area)
        probs = _arms(recognizer, frame, [box], truth)
        tally.add({arm: p[0] for arm, p in probs.items()}, truth, box.roll_degrees)
    return {**tally.report(), "classes": list(EMOTIONS)}


def main(argv: list[str] | None = None) -> dict:
    from fer_core.pipeline import EmotionRecognizer
    from fer_core.settings import LEVEL_EYES_DEFAULT

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="FER2013 faces to use (default: all 3,589)")
    args = parser.parse_args(argv)
    recognizer = EmotionRecognizer()  # the default detector (YuNet) and model
    result: dict = {"load_at_start": load(), "model": recognizer.model.name, "detector": recognizer.detector_name}
    result["photos"] = photos(recognizer)
    result["video"] = video(recognizer)
    if PUBLIC_TEST.is_dir():
        result["fer2013_publictest"] = fer2013(recognizer, args.limit, tilt=False)
        result["fer2013_publictest_tilted"] = fer2013(recognizer, args.limit, tilt=True)
    else:
        result["fer2013_publictest"] = f"not measured: {PUBLIC_TEST} is missing (make data)"
    decisive = [result[k] for k in ("photos", "video", "fer2013_publictest") if isinstance(result[k], dict)]
    better = all(r["levelled"]["accuracy"] >= r["upright"]["accuracy"] for r in decisive)
    result["headline"] = {
        **{k: {"upright": result[k]["upright"]["accuracy"], "levelled": result[k]["levelled"]["accuracy"]}
           for k in ("photos", "video", "fer2013_publictest", "fer2013_publictest_tilted") if isinstance(result.get(k), dict)},
        "levelling_at_least_as_good_on_photos_video_fer2013": better,
        "level_eyes_default": LEVEL_EYES_DEFAULT,
    }
    return write_result("eye_levelling", result)


if __name__ == "__main__":
    main()
