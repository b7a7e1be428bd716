"""The evaluation table: one row per labelled image, every view of the Model Explorer is made from it.

    from fer_core.explore import bundled_sample, evaluate_set
    run = evaluate_set(bundled_sample(), "fast")
    run.table                # the DataFrame (FACE_COLUMNS), one row per image
    run.crops[i]             # what the model saw for row i (S x S grey uint8)
    run.features[i]          # the model's penultimate features for row i (for the embedding map)

Faces go through the frame path's own pieces: `EmotionRecognizer.find_faces` and `crops` for whole photos
(the largest face of each photo), `prepare_face` for face crops (as `python -m fer_core.evaluate` always
did), and `EmotionClassifier` for the probabilities, calibrated and raw. A finished table is kept on disk per
(model, the set's content, settings), so opening the same set again, after a restart too, reads it back.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..calibration import apply_temperature
from ..emotions import EMOTIONS
from ..errors import FerError
from ..models import ModelSpec, get_model
from .facts import FACT_COLUMNS, box_facts, crop_facts
from .sets import LabelledSet
from .votes import VOTE_COLUMNS, vote_shares

PROB_COLUMNS: list[str] = [f"p_{c}" for c in EMOTIONS]
"""The model's calibrated probabilities (its temperature applied: what every page shows), in EMOTIONS order."""

RAW_PROB_COLUMNS: list[str] = [f"raw_p_{c}" for c in EMOTIONS]
"""The network's own outputs before the temperature (`predict(calibrated=False)`): the "before" of calibration."""

FACE_COLUMNS: list[str] = [
    "file", "set", "true_label", *PROB_COLUMNS, *RAW_PROB_COLUMNS, "predicted", "confidence", "correct",
    "face_found", *FACT_COLUMNS, *VOTE_COLUMNS,
]
"""The evaluation table's columns, in order. Row i is `run.crops[i]` and `run.features[i]` (a RangeIndex).

- `file`: the image's path relative to the set's root (`happy/PublicTest_123.jpg`); `set`: the set's name.
- `true_label`: the class folder the image is in (one of EMOTIONS).
- `p_<class>` (7): calibrated probabilities; `raw_p_<class>` (7): before the model's temperature.
- `predicted`: the argmax class (missing, NaN, where no face was found); `confidence`: its calibrated probability;
  `correct`: predicted == true_label (False where no face was found).
- `face_found`: False for a photo in which the detector found no face. Such rows are kept, so they can be
  counted and listed, with NaN probabilities and facts; every metric leaves them out.
- `face_px`: the face's size in pixels (the detector box's longer side; a crop's shorter side).
- `brightness` (mean grey 0-255), `contrast` (standard deviation of grey), `blur` (variance of the Laplacian,
  low = blurred): measured on the crop the model saw.
- `detector_score`: the detector's confidence; `roll`, `yaw`: head roll and approximate yaw in degrees from
  YuNet's landmarks (`fer_core.explore.facts`). NaN for crops (no detector ran).
- `votes_<class>` (7): the FER+ vote shares of FER2013 images that have them (`fer_core.explore.votes`), else NaN.
"""

CACHE_VERSION = 1
"""Bumped when the table's layout or how it is computed changes, so old cache entries are not read."""

BATCH = 256
"""Faces per classifier call."""


def default_cache_dir() -> Path:
    """Where finished tables are kept: $FER_EXPLORE_CACHE, else ~/.cache/fer_core/explore (outside the checkout)."""
    if os.environ.get("FER_EXPLORE_CACHE"):
        return Path(os.environ["FER_EXPLORE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "fer_core" / "explore"


@dataclass
class EvaluationRun:
    """A model evaluated on a labelled set: the table and, row for row, what the model saw and its features."""

    table: pd.DataFrame
    crops: np.ndarray
    """(N, S, S) uint8: the grey face the model saw for each row (zeros where no face was found)."""
    features: np.ndarray
    """(N, D) float32: the model's penultimate features (NaN where no face was found; zero columns when off)."""
    model: str
    set_name: str
    settings: dict[str, Any] = field(default_factory=dict)
    """How the run was made: detect, tta, detector, level_eyes, model temperature, set kind, root, ..."""
    unreadable: list[str] = field(default_factory=list)
    """Files (relative to the set's root) that could not be read as images: not in the table."""
    seconds: float = 0.0
    from_cache: bool = False

    @property
    def root(self) -> Path:
        """The set's folder on disk, where `file` is relative to (for showing the original image)."""
        return Path(self.settings.get("root", "."))

    @property
    def faces(self) -> pd.DataFrame:
        """The rows with a face: what every metric counts."""
        return self.table[self.table["face_found"]]

    @property
    def accuracy(self) -> float:
        faces = self.faces
        return float(faces["correct"].mean()) if len(faces) else float("nan")


def _model_fingerprint(spec: ModelSpec) -> dict[str, Any]:
    """What decides a model's outputs: its weights' bytes, preprocessing and temperature (members' too)."""
    if spec.is_ensemble:
        members = [_model_fingerprint(get_model(m)) for m in spec.members]
        weights = ""
    else:
        members = []
        weights = hashlib.blake2b(spec.weights_path.read_bytes(), digest_size=16).hexdigest()
    return {"name": spec.name, "weights": weights, "input_size": spec.input_size, "face_margin": spec.face_margin,
            "classes": list(spec.classes), "temperature": spec.temperature,
            "temperature_tta": spec.temperature_tta, "members": members}


def _cache_key(spec: ModelSpec, labelled_set: LabelledSet, settings: dict[str, Any]) -> str:
    keyed = {k: v for k, v in settings.items() if k not in ("root", "kind")}
    payload = json.dumps({"version": CACHE_VERSION, "model": _model_fingerprint(spec),
                          "set": labelled_set.content_hash(), "settings": keyed}, sort_keys=True, default=str)
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def _read_cache(folder: Path) -> EvaluationRun | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        table = pd.read_parquet(folder / "table.parquet")
        with np.load(folder / "arrays.npz") as arrays:
            crops, features = arrays["crops"], arrays["features"]
    except (OSError, ValueError, KeyError):
        return None
    return EvaluationRun(table=table, crops=crops, features=features, model=meta["model"],
                         set_name=meta["set_name"], settings=meta["settings"], unreadable=meta["unreadable"],
                         seconds=meta["seconds"], from_cache=True)


def _write_cache(folder: Path, run: EvaluationRun) -> None:
    """Write into a fresh folder, then rename it into place: a reader never sees half an entry."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    partial.mkdir(exist_ok=True)
    run.table.to_parquet(partial / "table.parquet", index=False)
    np.savez(partial / "arrays.npz", crops=run.crops, features=run.features)
    meta = {"model": run.model, "set_name": run.set_name, "settings": run.settings, "unreadable": run.unreadable,
            "seconds": run.seconds}
    (partial / "meta.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
    try:
        partial.rename(folder)
    except OSError:  # another process finished the same entry first: keep theirs
        import shutil

        shutil.rmtree(partial, ignore_errors=True)


def evaluate_set(
    labelled_set: LabelledSet,
    model: str | None = None,
    *,
    detect: bool | None = None,
    tta: bool = False,
    detector: str | None = None,
    level_eyes: bool | None = None,
    features: bool = True,
    cache: bool = True,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    recognizer: Any = None,
) -> EvaluationRun:
    """Evaluate `model` (a name or alias; None: the default model) on every image of `labelled_set`.

    - `detect`: None follows the set (`kind`: photos are detected, crops are not); True or False overrides.
    - `tta`: mirror averaging; `detector`, `level_eyes`: the frame path's settings for photos (defaults:
      `Settings()`'s). `features=False` skips the penultimate features (the table is the same).
    - The finished run is kept under `cache_dir` (default `default_cache_dir()`) unless `cache=False`, and
      read back when the same model (same weights and temperature), set content and settings come again.
    - `progress(done, total)` is called as images are read, and once at the end.
    - `recognizer`: a ready `EmotionRecognizer` to use (its model, tta and detector then win).
    """
    from ..io import load_image
    from ..pipeline import EmotionRecognizer
    from ..preprocess import prepare_face, to_gray, unscale_pixels
    from .features import FeatureExtractor

    start = time.perf_counter()
    if recognizer is None:
        changes: dict[str, Any] = {"model": model, "tta": tta}
        if level_eyes is not None:
            changes["level_eyes"] = level_eyes
        recognizer = EmotionRecognizer(detector=detector, **changes) if detector else EmotionRecognizer(**changes)
    spec: ModelSpec = recognizer.model
    if tuple(spec.classes) != EMOTIONS:
        raise FerError(f"Model '{spec.name}' does not output the seven FER2013 classes, so it cannot be explored.")
    detect = labelled_set.detect if detect is None else bool(detect)
    settings: dict[str, Any] = {
        "detect": detect, "tta": bool(recognizer.classifier.tta), "features": features,
        "detector": recognizer.detector_name if detect else None,
        "level_eyes": bool(recognizer.settings.level_eyes) if detect else None,
        "detect_width": recognizer.settings.detect_width if detect else None,
        "retry_width": recognizer.settings.retry_width if detect else None,
        "temperature": float(recognizer.classifier.temperature), "kind": labelled_set.kind,
        "root": str(labelled_set.root),
    }
    folder = None
    if cache:
        folder = Path(cache_dir or default_cache_dir()) / _cache_key(spec, labelled_set, settings)
        cached = _read_cache(folder) if folder.is_dir() else None
        if cached is not None:
            cached.settings["root"] = str(labelled_set.root)  # the same faces may now be unpacked elsewhere
            cached.table["set"] = labelled_set.name
            cached.set_name = labelled_set.name
            if progress:
                progress(len(labelled_set), len(labelled_set))
            return cached

    size = spec.input_size
    total = len(labelled_set)
    inputs = np.zeros((total, size, size, 1), dtype=np.float32)
    found = np.zeros(total, dtype=bool)
    readable = np.ones(total, dtype=bool)
    facts: list[dict[str, float]] = []
    unreadable: list[str] = []
    for i, item in enumerate(labelled_set.items):
        try:
            image = load_image(item.path)
        except FerError:
            readable[i] = False
            unreadable.append(labelled_set.relative(item))
            facts.append(box_facts(None, (0, 0)))
            continue
        box = None
        if detect:
            boxes = recognizer.find_faces(image)
            if boxes:
                box = max(boxes, key=lambda b: b.area)
                inputs[i] = recognizer.crops(image, [box])[0]
                found[i] = True
        else:
            inputs[i] = prepare_face(to_gray(image), size)
            found[i] = True
        facts.append(box_facts(box, image.shape) if (box is not None or not detect) else
                     {k: float("nan") for k in ("face_px", "detector_score", "roll", "yaw")})
        if progress and (i + 1) % 64 == 0:
            progress(i + 1, total)

    raw = np.full((total, len(EMOTIONS)), np.nan, dtype=np.float32)
    calibrated = raw.copy()
    rows = np.flatnonzero(found)
    dims = 0
    feats = np.zeros((total, 0), dtype=np.float32)
    extractor = FeatureExtractor(spec) if features else None
    if extractor is not None:
        dims = extractor.dimensions
        feats = np.full((total, dims), np.nan, dtype=np.float32)
    temperature = float(recognizer.classifier.temperature)
    # A single network without mirror TTA gives its probabilities and features from one call of its own file.
    one_pass = not spec.is_ensemble and not recognizer.classifier.tta
    for b in range(0, len(rows), BATCH):
        chunk = rows[b:b + BATCH]
        batch = inputs[chunk]
        if extractor is not None and one_pass:
            feats[chunk], raw[chunk] = extractor.features_and_outputs(batch)
        else:
            raw[chunk] = recognizer.classify_crops(batch, calibrated=False)
            if extractor is not None:
                feats[chunk] = extractor.features(batch)
        # What classify_crops(calibrated=True) returns, without running the network twice: the raw output
        # (an ensemble's: its members' average) at the classifier's temperature (its mirror-TTA one with tta).
        calibrated[chunk] = apply_temperature(raw[chunk], temperature)

    keep = np.flatnonzero(readable)
    crops = unscale_pixels(inputs[keep]).reshape(len(keep), size, size)
    crops[~found[keep]] = 0
    measured = crop_facts(crops)
    items = [labelled_set.items[i] for i in keep]
    table = pd.DataFrame({"file": [labelled_set.relative(item) for item in items],
                          "set": labelled_set.name,
                          "true_label": [item.label for item in items]})
    for j, column in enumerate(PROB_COLUMNS):
        table[column] = calibrated[keep, j].astype(np.float64)
    for j, column in enumerate(RAW_PROB_COLUMNS):
        table[column] = raw[keep, j].astype(np.float64)
    has_face = found[keep]
    predicted_index = np.where(has_face, np.nan_to_num(calibrated[keep]).argmax(axis=1), -1)
    table["predicted"] = [EMOTIONS[k] if k >= 0 else None for k in predicted_index]
    table["confidence"] = np.where(has_face, np.nan_to_num(calibrated[keep]).max(axis=1), np.nan)
    table["correct"] = (table["predicted"] == table["true_label"]) & has_face
    table["face_found"] = has_face
    kept_facts = [facts[i] for i in keep]
    for column in ("face_px", "brightness", "contrast", "blur", "detector_score", "roll", "yaw"):
        if column in measured:
            table[column] = np.where(has_face, measured[column], np.nan)
        else:
            table[column] = [f[column] for f in kept_facts]
    shares = vote_shares([item.path for item in items], labelled_set.root)
    for j, column in enumerate(VOTE_COLUMNS):
        table[column] = shares[:, j]
    table = table[FACE_COLUMNS]

    if progress:
        progress(total, total)
    run = EvaluationRun(table=table, crops=crops, features=feats[keep], model=spec.name,
                        set_name=labelled_set.name, settings=settings, unreadable=unreadable,
                        seconds=round(time.perf_counter() - start, 3))
    if folder is not None:
        _write_cache(folder, run)
    return run


def write_table(run: EvaluationRun | pd.DataFrame, path: str | Path) -> Path:
    """Write the evaluation table as CSV (`.csv`) or Parquet (`.parquet`, `.pq`); returns the path."""
    table = run.table if isinstance(run, EvaluationRun) else run
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise FerError(f"{path.name}: the evaluation table is written as .csv or .parquet.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        table.to_csv(path, index=False, float_format="%.6g")
    else:
        table.to_parquet(path, index=False)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """An evaluation table written by `write_table` (or `--faces`), CSV or Parquet."""
    path = Path(path)
    if not path.is_file():
        raise FerError(f"{path} does not exist.")
    return pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
