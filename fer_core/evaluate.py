"""Accuracy of a model on a folder of class folders (angry, disgust, ..., neutral).

    python -m fer_core.evaluate data/PublicTest --json
    python -m fer_core.evaluate my_photos --detect --detector yunet

Without --detect every image is taken to be a face crop (as in FER2013). With --detect the whole pipeline
runs (detect, crop, classify the largest face) and images with no face found are counted apart, because
they say something about the detector, not the classifier.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .detectors import DEFAULT_DETECTOR
from .emotions import EMOTIONS
from .errors import DatasetError, FerError
from .io import IMAGE_EXTENSIONS, load_image
from .models import ModelSpec
from .pipeline import EmotionRecognizer
from .preprocess import prepare_face, to_gray


@dataclass
class Evaluation:
    n: int
    accuracy: float
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    classes: list[str]
    no_face: int
    unreadable: int
    model: str
    tta: bool
    detect: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def labelled_images(data_dir: Path) -> Iterator[tuple[Path, int]]:
    """(path, class index) for every image in the class folders present."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir} is not a folder of class folders ({', '.join(EMOTIONS)}).")
    found = [e for e in EMOTIONS if (data_dir / e).is_dir()]
    if not found:
        raise DatasetError(f"{data_dir} has none of the class folders {', '.join(EMOTIONS)}.")
    for index, emotion in enumerate(EMOTIONS):
        folder = data_dir / emotion
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in IMAGE_EXTENSIONS:
                    yield path, index


def metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> tuple[float, dict[str, dict[str, float]], np.ndarray]:
    k = len(classes)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class = {}
    for i, name in enumerate(classes):
        tp = cm[i, i]
        precision = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        recall = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(float(precision), 4), "recall": round(float(recall), 4),
            "f1": round(float(f1), 4), "support": int(cm[i, :].sum()),
        }
    accuracy = float(np.trace(cm) / cm.sum()) if cm.sum() else 0.0
    return accuracy, per_class, cm


def evaluate(
    data_dir: Path,
    recognizer: EmotionRecognizer,
    detect: bool = False,
    batch_size: int = 256,
    progress: bool = False,
) -> Evaluation:
    start = time.perf_counter()
    items = list(labelled_images(data_dir))
    if not items:
        raise DatasetError(f"{data_dir} has no images in its class folders.")
    size = recognizer.model.input_size
    y_true: list[int] = []
    y_pred: list[int] = []
    no_face = unreadable = 0
    batch: list[np.ndarray] = []
    labels: list[int] = []

    def flush() -> None:
        if batch:
            probabilities = recognizer.classify_crops(np.stack(batch))
            y_pred.extend(int(i) for i in probabilities.argmax(axis=1))
            y_true.extend(labels)
            batch.clear()
            labels.clear()

    iterator: Any = items
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc="evaluating", unit="img", file=sys.stderr)
    for path, label in iterator:
        try:
            image = load_image(path)
        except FerError:
            unreadable += 1
            continue
        if detect:
            boxes = recognizer.find_faces(image)
            if not boxes:
                no_face += 1
                continue
            largest = max(boxes, key=lambda b: b.area)
            batch.append(recognizer.crops(image, [largest])[0])
        else:
            batch.append(prepare_face(to_gray(image), size))
        labels.append(label)
        if len(batch) >= batch_size:
            flush()
    flush()
    classes = list(recognizer.model.classes)
    accuracy, per_class, cm = metrics(np.array(y_true, dtype=int), np.array(y_pred, dtype=int), classes)
    return Evaluation(
        n=len(y_true), accuracy=round(accuracy, 4), per_class=per_class, confusion_matrix=cm.tolist(),
        classes=classes, no_face=no_face, unreadable=unreadable, model=recognizer.model.name,
        tta=recognizer.classifier.tta, detect=detect, seconds=round(time.perf_counter() - start, 2),
    )


def format_report(result: Evaluation) -> str:
    lines = [
        f"model {result.model}{' (mirror TTA)' if result.tta else ''}: accuracy {result.accuracy:.2%} on {result.n} images"
        + (f", {result.no_face} with no face found" if result.detect else "")
        + (f", {result.unreadable} unreadable" if result.unreadable else ""),
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'n':>7}",
    ]
    for name, m in result.per_class.items():
        lines.append(f"{name:<10}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>7}")
    lines.append("confusion matrix (rows: true, columns: predicted, order " + " ".join(c[:3] for c in result.classes) + ")")
    lines += ["  " + " ".join(f"{v:>5}" for v in row) for row in result.confusion_matrix]
    return "\n".join(lines)


def record(result: Evaluation, spec: ModelSpec, data_dir: Path) -> None:
    """Store an evaluation of face crops in the model's model.json (mirror TTA under its own keys)."""
    from .classifier import measure_ms_per_face
    from .models import record_metrics

    if result.detect:
        raise FerError("--record stores the classifier's accuracy on face crops; run it without --detect.")
    suffix = "_tta" if result.tta else ""
    record_metrics(spec, {f"val_accuracy{suffix}": result.accuracy, "val_data": str(data_dir),
                          f"val_per_class{suffix}": {c: round(m["recall"], 4) for c, m in result.per_class.items()},
                          "ms_per_face": measure_ms_per_face(spec)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_core.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="folder with one sub-folder per emotion")
    parser.add_argument("--detect", action="store_true", help="run face detection (full photos, not crops)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help=f"detector for --detect (default: {DEFAULT_DETECTOR})")
    parser.add_argument("--model", default=None, help="model name from models/ (default: the default model)")
    parser.add_argument("--tta", action="store_true", help="average each face with its mirror image")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--record", action="store_true",
                        help="write the accuracy (and the cost per face) into the model's model.json, which every "
                             "model list shows")
    args = parser.parse_args(argv)
    try:
        recognizer = EmotionRecognizer(detector=args.detector, model=args.model, tta=args.tta)
        result = evaluate(args.data_dir, recognizer, detect=args.detect, progress=sys.stderr.isatty())
        if args.record:
            record(result, recognizer.model, args.data_dir)
    except FerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
