"""Calibrated probabilities (issue 25): the temperature maths, the shipped temperatures, and the classifier."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_core.calibration import (apply_temperature, calibration_report, cross_entropy, expected_calibration_error,
                                  fit_temperature, negative_log_likelihood, reliability)
from fer_core.classifier import EmotionClassifier
from fer_core.models import MODELS_DIR, get_model, list_models, load_spec

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "fer2013_mini"


def _synthetic(temperature: float, n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z); the probabilities handed over are softmax(z / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.5, (n, 7))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(7, p=row) for row in true])
    shown = np.exp(logits / temperature)
    return shown / shown.sum(axis=1, keepdims=True), labels


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_fit_temperature_recovers_a_known_temperature(temperature: float) -> None:
    probabilities, labels = _synthetic(temperature)
    # The probabilities were divided by `temperature`; the fit must find the temperature that undoes it.
    assert fit_temperature(probabilities, labels) == pytest.approx(1.0 / temperature, rel=0.05)


def test_fitted_temperature_lowers_ece_and_nll_on_a_small_set() -> None:
    probabilities, labels = _synthetic(0.5, n=600, seed=3)  # over-confident, as the shipped networks were
    t = fit_temperature(probabilities, labels)
    report = calibration_report(probabilities, labels, t)
    assert report.ece_after < report.ece_before / 2
    assert report.nll_after < report.nll_before


def test_ece_and_nll_against_a_hand_computed_case() -> None:
    # Four faces in two of ten bins: two at 0.9 (one right), two at 0.6 (both right).
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 1, 0, 0])
    # bin 0.9: confidence 0.9, accuracy 0.5 -> gap 0.4; bin 0.6: 0.6 vs 1.0 -> gap 0.4; ECE = 0.4.
    assert expected_calibration_error(p, y, bins=10) == pytest.approx(0.4)
    rows = [r for r in reliability(p, y, bins=10) if r["count"]]
    assert [(r["count"], round(r["confidence"], 3), r["accuracy"]) for r in rows] == [(2, 0.6, 1.0), (2, 0.9, 0.5)]
    expected_nll = -(np.log(0.9) + np.log(0.1) + 2 * np.log(0.6)) / 4
    assert negative_log_likelihood(p, y) == pytest.approx(expected_nll)
    assert cross_entropy(p, np.eye(2)[y]) == pytest.approx(expected_nll)


def test_apply_temperature_keeps_sums_and_argmax() -> None:
    probabilities, _ = _synthetic(1.0, n=500)
    for t in (0.3, 1.0, 1.7, 8.0):
        scaled = apply_temperature(probabilities, t)
        assert np.allclose(scaled.sum(axis=1), 1.0, atol=1e-5)
        assert (scaled.argmax(axis=1) == probabilities.argmax(axis=1)).all()
    assert apply_temperature(probabilities, 3.0).max(axis=1).mean() < probabilities.max(axis=1).mean()


def _sample_faces(size: int) -> np.ndarray:
    from fer_core.io import load_image
    from fer_core.preprocess import prepare_face, to_gray

    paths = sorted(SAMPLE.glob("*/*"))[:40]
    return np.stack([prepare_face(to_gray(load_image(p)), size) for p in paths])


@pytest.mark.parametrize("role", ["fast", "accurate", "best"])
def test_every_role_ships_a_temperature_and_the_classifier_applies_it(role: str) -> None:
    spec = get_model(role)
    assert spec.temperature != 1.0 and spec.temperature_tta is not None
    calibration = spec.metrics["calibration"]
    assert calibration["nll_after"] <= calibration["nll_before"]
    clf = EmotionClassifier(role)
    faces = _sample_faces(clf.input_size)
    calibrated, raw = clf.predict(faces), clf.predict(faces, calibrated=False)
    assert np.allclose(calibrated.sum(axis=1), 1.0, atol=1e-5)
    assert (calibrated.argmax(axis=1) == raw.argmax(axis=1)).all()
    assert np.allclose(calibrated, apply_temperature(raw, spec.temperature), atol=1e-5)


def test_mirror_tta_uses_its_own_temperature() -> None:
    spec = get_model("fast")
    clf = EmotionClassifier(spec, tta=True)
    faces = _sample_faces(clf.input_size)
    assert clf.temperature == spec.temperature_tta
    assert np.allclose(clf.predict(faces), apply_temperature(clf.predict(faces, calibrated=False),
                                                             spec.temperature_tta), atol=1e-5)


def test_an_ensemble_averages_raw_members_then_applies_its_own_temperature() -> None:
    spec = get_model("best")
    faces = _sample_faces(spec.input_size)
    from fer_core.classifier import resize_batch

    members = np.mean([EmotionClassifier(m).predict(resize_batch(faces, get_model(m).input_size), calibrated=False)
                       for m in spec.members], axis=0)
    assert np.allclose(EmotionClassifier(spec).predict(faces, calibrated=False), members, atol=1e-5)
    assert np.allclose(EmotionClassifier(spec).predict(faces), apply_temperature(members, spec.temperature), atol=1e-5)


def test_a_model_json_without_a_temperature_still_loads(tmp_path: Path) -> None:
    source = get_model("resnet_m_distilled_resnet18_150ep").directory  # a single network (fast is a pair)
    folder = tmp_path / "old_model"
    folder.mkdir()
    shutil.copy(source / "model.tflite", folder / "model.tflite")
    data = json.loads((source / "model.json").read_text())
    data.pop("temperature"), data.pop("temperature_tta")
    (folder / "model.json").write_text(json.dumps(data))
    spec = load_spec(folder)
    assert spec.temperature == 1.0 and spec.temperature_for(tta=True) == 1.0
    faces = _sample_faces(spec.input_size)
    clf = EmotionClassifier(spec)
    assert np.allclose(clf.predict(faces), clf.predict(faces, calibrated=False))


def test_every_shipped_model_card_shows_its_calibration() -> None:
    shipped = [s for s in list_models() if s.directory.parent == MODELS_DIR]
    assert len(shipped) >= 8
    for spec in shipped:
        assert "## Calibration" in spec.card(), spec.name
        assert spec.metrics["calibration"]["ece_after"] < 0.06, spec.name
