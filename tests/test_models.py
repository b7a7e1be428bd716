"""The model registry: aliases (fast, accurate, best, default), recorded accuracy and cost, the listings."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest

from sample_media import PHOTOS, ROOT
from fer_core import models
from fer_core.classifier import EmotionClassifier, measure_ms_per_face
from fer_core.cli import main
from fer_core.errors import ModelNotFoundError


def test_aliases_resolve_to_shipped_models_that_record_accuracy_and_cost():
    table = json.loads((models.MODELS_DIR / models.ALIASES_FILE).read_text())
    assert {"fast", "accurate", "best", "default"} <= set(table)
    for alias in ("fast", "accurate", "best"):
        spec = models.get_model(alias)
        assert spec.name == models.resolve(alias) and alias in models.aliases_of(spec.name)
        assert 0.6 < spec.accuracy < 1 and spec.ms_per_face > 0, spec.name
        assert "PublicTest" in spec.summary() and "ms/face" in spec.summary()
    assert models.get_model(None).name == models.resolve("fast") == models.default_model_name()
    best, fast = models.get_model("best"), models.get_model("fast")
    assert best.is_ensemble and best.accuracy > fast.accuracy and best.ms_per_face > fast.ms_per_face


def test_an_alias_runs_the_cli_like_its_model():
    photo = str(PHOTOS / "happy_posed.jpg")
    outputs = []
    for model in ("best", models.resolve("best")):
        out = io.StringIO()
        assert main(["--input", photo, "--model", model, "--json"], out=out) == 0
        outputs.append(json.loads(out.getvalue())["results"])
    assert outputs[0] == outputs[1] and outputs[0][0]["label"] == "happy"


def test_list_models_shows_accuracy_cost_and_roles_side_by_side():
    out = io.StringIO()
    assert main(["--list-models"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:4] == ["model", "PublicTest", "ms/face", "aliases"]
    fast = next(line for line in lines if line.startswith(models.resolve("fast") + " "))
    spec = models.get_model("fast")
    assert f"{spec.accuracy:.2%}" in fast and f"{spec.ms_per_face:.2f}" in fast and "fast" in fast
    assert "accurate:" in lines[-1] and "best:" in lines[-1]


def test_unknown_and_circular_aliases_fail_with_one_sentence(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="Unknown model 'fastest'.*or an alias: .*fast"):
        models.get_model("fastest")
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    (tmp_path / models.ALIASES_FILE).write_text(json.dumps({"fast": "best", "best": "fast"}))
    with pytest.raises(ModelNotFoundError, match="in a circle"):
        models.resolve("fast")


def test_cost_per_face_is_measured_on_the_runtime_and_ensembles_add_up():
    fast = measure_ms_per_face("mini_xception_wide48_ft", repeats=50)
    ensemble = measure_ms_per_face("mini_xception_ensemble", repeats=50)
    assert 0 < fast < 20 and ensemble > fast  # two members: more work than one


def test_evaluate_record_writes_accuracy_and_cost_into_model_json(tmp_path):
    from fer_core.evaluate import evaluate, record
    from fer_core.pipeline import EmotionRecognizer

    folder = tmp_path / "copy"
    shutil.copytree(models.get_model("mini_xception_wide48_ft").directory, folder)
    data = json.loads((folder / "model.json").read_text())
    data["name"], data["metrics"] = "copy", {}
    (folder / "model.json").write_text(json.dumps(data))
    spec = models.load_spec(folder)
    assert spec.accuracy is None and "not measured" in spec.summary()
    samples = ROOT / "samples" / "fer2013_mini"
    recognizer = EmotionRecognizer(model=spec)
    result = evaluate(samples, recognizer)
    record(result, spec, samples)
    spec = models.load_spec(folder)
    assert spec.accuracy == result.accuracy and spec.ms_per_face > 0 and spec.metrics["val_data"] == str(samples)
    probs = EmotionClassifier(spec).predict(np.zeros((1, 48, 48, 1), np.float32))
    assert probs.shape == (1, 7)
