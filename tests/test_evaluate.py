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


def test_json_reports_macro_recall_ece_and_nll(capsys):
    from fer_core.calibration import expected_calibration_error
    from fer_core.explore import PROB_COLUMNS, bundled_sample, evaluate_set

    assert main([str(bundled_sample().root), "--model", "fast", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 350 and report["macro_recall"] == pytest.approx(report["accuracy"], abs=1e-4)  # balanced
    run = evaluate_set(bundled_sample(), "fast", features=False, cache=False)
    labels = run.table["true_label"].map({c: i for i, c in enumerate(report["classes"])}).to_numpy()
    assert report["ece"] == pytest.approx(expected_calibration_error(run.table[PROB_COLUMNS].to_numpy(), labels), abs=1e-4)
    assert 0 < report["nll"] < report["nll_raw"] + 0.05 and report["temperature"] == run.settings["temperature"]


def test_faces_table_and_compare_from_the_command_line(tmp_path, capsys):
    import pandas as pd

    from fer_core.explore import FACE_COLUMNS, bundled_sample

    out = tmp_path / "faces.parquet"
    assert main([str(bundled_sample().root), "--model", "fast", "--faces", str(out)]) == 0
    assert f"evaluation table (350 rows) written to {out}" in capsys.readouterr().out
    table = pd.read_parquet(out)
    assert list(table.columns) == FACE_COLUMNS and len(table) == 350
    assert main([str(FER_MINI), "--model", "fast", "--compare", "mini_xception_fer2013", "--json"]) == 0
    comparison = json.loads(capsys.readouterr().out)["comparison"]
    assert comparison["n"] == 70 and 0 < comparison["agreement"] < 1 and 0 <= comparison["mcnemar_p"] <= 1
    assert set(comparison["per_class_recall"]) == set(comparison["per_class_recall"]) & {
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert main([str(FER_MINI), "--model", "fast", "--compare", "mini_xception_fer2013"]) == 0
    assert "McNemar's exact p" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_1(tmp_path, capsys):
    import zipfile

    no_classes = tmp_path / "no_classes.zip"
    with zipfile.ZipFile(no_classes, "w") as archive:
        archive.writestr("photos/a.jpg", (FER_MINI / "happy").joinpath(next((FER_MINI / "happy").iterdir()).name).read_bytes())
    not_images = tmp_path / "not_images"
    (not_images / "happy").mkdir(parents=True)
    (not_images / "happy" / "notes.txt").write_text("hello")
    empty_class = tmp_path / "empty_class"
    (empty_class / "sad").mkdir(parents=True)
    cases = {str(no_classes): "no_classes.zip has none of the class folders",
             str(not_images): "has no images", str(empty_class): "The class folder sad in",
             str(tmp_path / "missing"): "does not exist"}
    for path, message in cases.items():
        assert main([path]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert main([str(FER_MINI), "--faces", str(tmp_path / "faces.xlsx")]) == 1
    assert "written as .csv or .parquet" in capsys.readouterr().err
