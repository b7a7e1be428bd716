"""`python -m fer_core.evaluate`: metrics on real labelled faces, with and without detection."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from sample_media import FER_MINI, PHOTOS, VIDEOS
from fer_core.errors import DatasetError
from fer_core.evaluate import evaluate, main, metrics
from fer_core.video import iter_frames


def test_metrics_by_hand():
    accuracy, per_class, cm = metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), ["a", "b"])
    assert accuracy == 0.75
    assert cm.tolist() == [[1, 1], [0, 2]]
    assert per_class["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert per_class["b"]["precision"] == pytest.approx(0.6667, abs=1e-4)


def test_crops_json_report(capsys):
    assert main([str(FER_MINI), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 70 and report["no_face"] == 0 and not report["detect"]
    assert np.array(report["confusion_matrix"]).sum() == 70
    assert all(row == 10 for row in np.array(report["confusion_matrix"]).sum(axis=1))
    assert set(report["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert 0.5 <= report["accuracy"] <= 0.9


def test_full_pipeline_counts_images_without_a_face(tmp_path, yunet_recognizer):
    for name, emotion in [("happy_astronaut.png", "happy"), ("happy_posed.jpg", "happy"),
                          ("surprise_posed.jpg", "surprise"), ("angry_posed.jpg", "angry")]:
        (tmp_path / emotion).mkdir(exist_ok=True)
        (tmp_path / emotion / name).write_bytes((PHOTOS / name).read_bytes())
    (tmp_path / "neutral").mkdir()
    cv2.imwrite(str(tmp_path / "neutral" / "empty_room.jpg"), next(iter_frames(VIDEOS / "no_face.mp4")).image)
    result = evaluate(tmp_path, yunet_recognizer, detect=True)
    assert result.no_face == 1 and result.n == 4
    assert result.per_class["happy"]["recall"] == 1.0 and result.per_class["surprise"]["recall"] == 1.0


def test_table_report_and_bad_folder(capsys, tmp_path):
    assert main([str(FER_MINI)]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main([str(tmp_path)]) == 1
    assert "has none of the class folders" in capsys.readouterr().err
    with pytest.raises(DatasetError):
        evaluate(tmp_path / "missing", None)
