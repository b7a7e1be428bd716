"""Accuracy of a model on a folder (or zip) of class folders (angry, disgust, ..., neutral).

    python -m fer_core.evaluate data/PublicTest --json
    python -m fer_core.evaluate my_photos --detect --detector yunet
    python -m fer_core.evaluate data/PublicTest --faces faces.parquet      # the evaluation table, one row per face
    python -m fer_core.evaluate data/PublicTest --model fast --compare best  # two models, McNemar's test

Without --detect every image is taken to be a face crop (as in FER2013). With --detect the whole pipeline
runs (detect, crop, classify the largest face) and images with no face found are counted apart, because
they say something about the detector, not the classifier. The report gives accuracy, macro recall (the
mean of the classes' recalls) and, for the calibrated probabilities, the expected calibration error (15
bins) and the negative log-likelihood. Every figure is computed from the Model Explorer's evaluation table
(fer_core.explore), so the CLI, the dashboard and a notebook agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .detectors import DEFAULT_DETECTOR
from .emotions import EMOTIONS
from .errors import DatasetError, FerError
from .io import IMAGE_EXTENSIONS
from .models import ModelSpec
from .pipeline import EmotionRecognizer

if TYPE_CHECKING:
    from .explore import EvaluationRun


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
    macro_recall: float | None = None
    """The mean recall of the classes with faces: accuracy that a large class cannot carry alone."""
    ece: float | None = None
    """Expected calibration error of the calibrated probabilities (15 equal-width bins of the top probability)."""
    nll: float | None = None
    """Negative log-likelihood of the true class under the calibrated probabilities."""
    ece_raw: float | None = None
    nll_raw: float | None = None
    """The same two before the model's temperature (the network's own outputs)."""
    temperature: float = 1.0

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


def summarize_run(run: "EvaluationRun") -> Evaluation:
    """The report of an evaluation table: accuracy, per class, confusion, macro recall, ECE and NLL."""
    from .explore import calibration, macro_recall

    faces = run.faces
    classes = list(EMOTIONS)
    index = {c: i for i, c in enumerate(classes)}
    accuracy, per_class, cm = metrics(faces["true_label"].map(index).to_numpy(dtype=int),
                                      faces["predicted"].map(index).to_numpy(dtype=int), classes)
    cal = calibration(faces) if len(faces) else None

    def rounded(value: float | None) -> float | None:
        return None if value is None or not np.isfinite(value) else round(float(value), 4)

    return Evaluation(
        n=len(faces), accuracy=round(accuracy, 4), per_class=per_class, confusion_matrix=cm.tolist(),
        classes=classes, no_face=int((~run.table["face_found"]).sum()), unreadable=len(run.unreadable),
        model=run.model, tta=bool(run.settings.get("tta")), detect=bool(run.settings.get("detect")),
        seconds=round(run.seconds, 2), macro_recall=rounded(macro_recall(faces)) if len(faces) else None,
        ece=rounded(cal.ece) if cal else None, nll=rounded(cal.nll) if cal else None,
        ece_raw=rounded(cal.ece_raw) if cal else None, nll_raw=rounded(cal.nll_raw) if cal else None,
        temperature=float(run.settings.get("temperature", 1.0)),
    )


def _progress_bar(enabled: bool) -> Any:
    if not enabled:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=0, desc="evaluating", unit="img", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, update


def evaluate_run(data_dir: Path, recognizer: EmotionRecognizer, detect: bool = False, progress: bool = False,
                 features: bool = False, cache: bool = False) -> "EvaluationRun":
    """The evaluation table of `recognizer` on a folder (or .zip) of class folders (see fer_core.explore)."""
    import tempfile

    from .explore import evaluate_set, open_folder, open_zip

    data_dir = Path(data_dir)
    bar, update = _progress_bar(progress)
    try:
        if data_dir.suffix.lower() == ".zip" and data_dir.is_file():
            with tempfile.TemporaryDirectory(prefix="fer-evaluate-") as workdir:
                labelled = open_zip(data_dir, Path(workdir) / "set", detect=detect)
                return evaluate_set(labelled, recognizer=recognizer, detect=detect, features=features, cache=cache,
                                    progress=update)
        labelled = open_folder(data_dir, detect=detect)
        return evaluate_set(labelled, recognizer=recognizer, detect=detect, features=features, cache=cache,
                            progress=update)
    finally:
        if bar is not None:
            bar.close()


def evaluate(
    data_dir: Path,
    recognizer: EmotionRecognizer,
    detect: bool = False,
    batch_size: int = 256,
    progress: bool = False,
) -> Evaluation:
    """Accuracy and the rest of the report of `recognizer` on a folder of class folders.

    `batch_size` is kept for callers; faces go through the classifier in batches of fer_core.explore's BATCH.
    """
    return summarize_run(evaluate_run(data_dir, recognizer, detect=detect, progress=progress))


def format_report(result: Evaluation) -> str:
    lines = [
        f"model {result.model}{' (mirror TTA)' if result.tta else ''}: accuracy {result.accuracy:.2%} on {result.n} images"
        + (f", {result.no_face} with no face found" if result.detect else "")
        + (f", {result.unreadable} unreadable" if result.unreadable else ""),
        _calibration_line(result),
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'n':>7}",
    ]
    for name, m in result.per_class.items():
        lines.append(f"{name:<10}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>7}")
    lines.append("confusion matrix (rows: true, columns: predicted, order " + " ".join(c[:3] for c in result.classes) + ")")
    lines += ["  " + " ".join(f"{v:>5}" for v in row) for row in result.confusion_matrix]
    return "\n".join(lines)


def _calibration_line(result: Evaluation) -> str:
    if result.ece is None:
        return "no faces to measure calibration on"
    before = (f" (before the temperature {result.temperature:g}: ECE {result.ece_raw:.4f}, NLL {result.nll_raw:.4f})"
              if result.temperature != 1.0 else "")
    return f"macro recall {result.macro_recall:.2%}, ECE {result.ece:.4f}, NLL {result.nll:.4f}{before}"


def format_comparison(comparison: Any) -> str:
    """`--compare`: agreement, each accuracy, McNemar's p and per-class recall side by side."""
    c = comparison
    lines = [
        f"{c.n} faces: {c.model_a} {c.accuracy_a:.2%}, {c.model_b} {c.accuracy_b:.2%}; they agree on {c.agreement:.2%}",
        f"only {c.model_a} right: {c.only_a_right}, only {c.model_b} right: {c.only_b_right}; McNemar's exact "
        f"p = {c.mcnemar_p:.4g}" + (" (a real difference at 5 %)" if c.mcnemar_p < 0.05 else " (no real difference at 5 %)"),
        f"{'recall':<10}{c.model_a[:18]:>20}{c.model_b[:18]:>20}{'n':>7}",
    ]
    for name, row in c.per_class.iterrows():
        lines.append(f"{name:<10}{row.recall_a:>20.3f}{row.recall_b:>20.3f}{int(row.support):>7}")
    return "\n".join(lines)


def record(result: Evaluation, spec: ModelSpec, data_dir: Path, detector: str = DEFAULT_DETECTOR) -> None:
    """Store an evaluation in the model's model.json (mirror TTA under its own keys).

    Face crops are the model's validation figures (PublicTest for shipped models: what every list shows). A
    `--detect` run on whole photos goes under `metrics.end_to_end[<folder name>]` instead (e.g.
    `wild_dev_kept_out`): the whole pipeline on faces unlike FER2013, which the README's model table shows.
    """
    from .classifier import measure_ms_per_face
    from .models import record_metrics

    if result.detect:
        end_to_end = dict(spec.metrics.get("end_to_end") or {})
        end_to_end[Path(data_dir).name + ("_tta" if result.tta else "")] = {
            "accuracy": result.accuracy, "macro_recall": result.macro_recall, "n": result.n,
            "no_face": result.no_face, "detector": detector}
        record_metrics(spec, {"end_to_end": end_to_end})
        return
    suffix = "_tta" if result.tta else ""
    record_metrics(spec, {f"val_accuracy{suffix}": result.accuracy, "val_data": str(data_dir),
                          f"val_per_class{suffix}": {c: round(m["recall"], 4) for c, m in result.per_class.items()},
                          "ms_per_face": measure_ms_per_face(spec)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_core.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="folder (or .zip) with one sub-folder per emotion")
    parser.add_argument("--detect", action="store_true", help="run face detection (full photos, not crops)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help=f"detector for --detect (default: {DEFAULT_DETECTOR})")
    parser.add_argument("--model", default=None, help="model name from models/ (default: the default model)")
    parser.add_argument("--tta", action="store_true", help="average each face with its mirror image")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--faces", type=Path, metavar="OUT",
                        help="write the evaluation table (one row per image: probabilities, prediction, face facts) "
                             "to OUT, .csv or .parquet")
    parser.add_argument("--compare", metavar="MODEL",
                        help="also evaluate MODEL on the same images and compare: agreement, each accuracy, "
                             "McNemar's test, per-class recall")
    parser.add_argument("--record", action="store_true",
                        help="write the accuracy (and the cost per face) into the model's model.json, which every "
                             "model list shows")
    args = parser.parse_args(argv)
    try:
        if args.faces is not None and args.faces.suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise FerError(f"--faces {args.faces.name}: the evaluation table is written as .csv or .parquet.")
        recognizer = EmotionRecognizer(detector=args.detector, model=args.model, tta=args.tta)
        run = evaluate_run(args.data_dir, recognizer, detect=args.detect, progress=sys.stderr.isatty())
        result = summarize_run(run)
        if args.faces is not None:
            from .explore import write_table

            write_table(run, args.faces)
        comparison = None
        if args.compare:
            from .explore import compare

            other = EmotionRecognizer(detector=args.detector, model=args.compare, tta=args.tta)
            comparison = compare(run, evaluate_run(args.data_dir, other, detect=args.detect,
                                                   progress=sys.stderr.isatty()))
        if args.record:
            record(result, recognizer.model, args.data_dir, args.detector)
    except FerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        report = result.to_dict()
        if comparison is not None:
            report["comparison"] = comparison.to_dict()
        if args.faces is not None:
            report["faces_table"] = str(args.faces)
        print(json.dumps(report, indent=2))
    else:
        print(format_report(result))
        if comparison is not None:
            print(format_comparison(comparison))
        if args.faces is not None:
            print(f"evaluation table ({len(run.table)} rows) written to {args.faces}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
