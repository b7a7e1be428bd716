"""Faces unlike FER2013 (issue 25): the committed wild_dev split, evaluation on a laid-out part, the wild
augmentation, and the third detection look for small photos that are all face."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fer_core.detectors import TIGHT_CROP_MAX_SIDE, YuNetDetector, detect_in_tight_crop
from fer_core.evaluate import evaluate
from fer_core.io import load_image
from fer_core.pipeline import EmotionRecognizer

ROOT = Path(__file__).resolve().parent.parent
SPLIT = ROOT / "splits" / "wild_dev.csv"
# The class counts of the wild_dev archive (its data README).
WILD_DEV_COUNTS = {"angry": 192, "disgust": 148, "happy": 400, "neutral": 400, "sad": 207, "surprise": 308}


def _split_module():
    spec = importlib.util.spec_from_file_location("make_wild_dev_split", ROOT / "splits" / "make_wild_dev_split.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows() -> list[dict[str, str]]:
    with SPLIT.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_split_names_every_wild_dev_photo_once_and_halves_every_class() -> None:
    rows = _rows()
    assert Counter(r["label"] for r in rows) == WILD_DEV_COUNTS
    assert len({r["file"] for r in rows}) == len(rows) == 1655
    for label, total in WILD_DEV_COUNTS.items():
        kept = sum(r["label"] == label and r["part"] == "kept_out" for r in rows)
        assert abs(kept - total / 2) <= 2, label
    assert {r["file"].split("/")[0] for r in rows} == set(WILD_DEV_COUNTS)


def test_no_person_is_on_both_sides_of_the_split() -> None:
    person = _split_module().person
    parts: dict[str, set[str]] = {}
    for r in _rows():
        parts.setdefault(person(r["file"].split("/")[1]), set()).add(r["part"])
    assert all(len(p) == 1 for p in parts.values())
    assert person("Aaron_Peirsol_0003.jpg") == "Aaron_Peirsol" and person("Dwarakish_149.jpg") == "Dwarakish"


def test_a_split_laid_out_as_folders_is_evaluated_on_its_kept_out_part(tmp_path: Path) -> None:
    # A small wild-style set from the bundled FER2013 sample: two "people" per class, one on each side.
    root = tmp_path / "wild_mini"
    lines = ["file,label,part"]
    for label in ("happy", "surprise", "neutral"):
        for i, path in enumerate(sorted((ROOT / "samples" / "fer2013_mini" / label).iterdir())[:4]):
            name = f"Person_{label}_{i // 2}_{i:04d}.png"
            (root / label).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, root / label / name)
            lines.append(f"{label}/{name},{label},{'tune' if i < 2 else 'kept_out'}")
    split_file = tmp_path / "split.csv"
    split_file.write_text("\n".join(lines) + "\n")
    _split_module().link(root, split_file)
    kept = tmp_path / "wild_mini_kept_out"
    assert sorted(p.name for p in kept.glob("*/*")) == sorted(l.split(",")[0].split("/")[1] for l in lines[1:]
                                                            if l.endswith("kept_out"))
    result = evaluate(kept, EmotionRecognizer(model="fast"))
    assert result.n == 6 and result.no_face == 0
    assert sum(sum(row) for row in result.confusion_matrix) == 6


def test_the_wild_augmentation_keeps_labels_shapes_and_range() -> None:
    import os

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from fer_core.training.augmentation import PRESETS
    from fer_core.training.augmentation_layer import augmentation_layer

    wild = PRESETS["wild"]
    assert wild.blur > 0 and wild.lowres > 0
    faces = np.stack([np.asarray(load_image(p))[..., 0] if load_image(p).ndim == 3 else load_image(p)
                      for p in sorted((ROOT / "samples" / "fer2013_mini" / "happy").iterdir())[:16]])
    x = (faces.astype(np.float32) / 127.5 - 1.0)[..., None]
    labels = np.eye(7, dtype=np.float32)[np.arange(16) % 7]
    layer = augmentation_layer("wild", seed=0)
    out = np.asarray(layer(x, training=True))
    assert out.shape == x.shape and out.min() >= -1.0 and out.max() <= 1.0
    assert np.abs(out - x).mean() > 0.05  # it changed the faces...
    assert np.array_equal(np.asarray(layer(x, training=False)), x)  # ...only in training
    # The layer sees images only: a model's targets pass beside it untouched.
    assert labels.sum() == 16 and (labels.argmax(axis=1) == np.arange(16) % 7).all()
    # An old layer config without the new keys (a saved model) still runs.
    old = {k: v for k, v in wild.to_json().items() if k not in ("blur", "lowres")}
    from fer_core.training.augmentation_layer import FaceAugmentation
    assert np.asarray(FaceAugmentation(old, seed=0)(x, training=True)).shape == x.shape


def _tight_crop(name: str, side: int) -> np.ndarray:
    import cv2

    image = load_image(ROOT / "samples" / "photos" / name)
    box = max(EmotionRecognizer().find_faces(image), key=lambda b: b.area)
    face = image[box.y:box.y + box.h, box.x:box.x + box.w]
    return cv2.resize(face, (side, round(side * box.h / box.w)), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("side", [40, 90])
def test_the_third_look_finds_a_face_that_fills_a_small_photo(side: int) -> None:
    crop = _tight_crop("happy_single_face.jpg", side)
    boxes = detect_in_tight_crop(YuNetDetector(), crop)
    assert len(boxes) == 1
    b = boxes[0]
    height, width = crop.shape[:2]
    # Mapped back into the photo's own pixels: inside it, and covering most of it.
    assert 0 <= b.x and 0 <= b.y and b.x + b.w <= width and b.y + b.h <= height
    assert b.w * b.h > 0.4 * width * height
    assert b.landmarks is not None and all(-width < x < 2 * width and -height < y < 2 * height
                                           for x, y in b.landmarks)


def test_the_third_look_skips_large_photos_and_finds_nothing_in_empty_ones() -> None:
    assert detect_in_tight_crop(YuNetDetector(), np.zeros((TIGHT_CROP_MAX_SIDE + 1, 300, 3), np.uint8)) == []
    recognizer = EmotionRecognizer()
    for shape in ((60, 45, 3), (200, 150, 3)):
        assert recognizer.find_faces(np.full(shape, 128, np.uint8)) == []


def test_an_end_to_end_evaluation_is_recorded_beside_the_crop_figures(tmp_path: Path, monkeypatch) -> None:
    import json

    from fer_core.evaluate import main
    from fer_core.models import get_model

    source = get_model("resnet_m_distilled_resnet18_150ep").directory  # a single network (fast is a pair)
    folder = tmp_path / "models" / "fast_copy"
    folder.mkdir(parents=True)
    shutil.copy(source / "model.tflite", folder / "model.tflite")
    data = json.loads((source / "model.json").read_text()) | {"name": "fast_copy"}
    (folder / "model.json").write_text(json.dumps(data))
    monkeypatch.setenv("FER_MODELS_DIRS", str(tmp_path / "models"))
    photos = tmp_path / "wild_like_kept_out"
    for label, name in (("happy", "happy_posed.jpg"), ("happy", "happy_astronaut.png"), ("surprise", "surprise_posed.jpg")):
        (photos / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "samples" / "photos" / name, photos / label / name)
    assert main([str(photos), "--detect", "--model", "fast_copy", "--record"]) == 0
    recorded = json.loads((folder / "model.json").read_text())["metrics"]
    figures = recorded["end_to_end"]["wild_like_kept_out"]
    assert figures["n"] == 3 and figures["no_face"] == 0 and figures["detector"] == "yunet"
    assert 0.0 <= figures["macro_recall"] <= 1.0 and 0.0 <= figures["accuracy"] <= 1.0
    assert recorded["val_accuracy"] == data["metrics"]["val_accuracy"]  # the PublicTest figure is left alone
