"""fer_core.perturb (the robustness playground's transforms) and fer_core.saliency (occlusion maps)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core import perturb
from fer_core.saliency import occlusion_saliency, overlay


@pytest.fixture()
def face() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(40, 200, size=(48, 48), dtype=np.uint8)


def test_identity_perturbation_returns_an_equal_copy(face):
    out = perturb.apply(face, perturb.Perturbation())
    assert out is not face and np.array_equal(out, face)
    assert perturb.Perturbation().is_identity()


def test_each_perturbation_changes_the_image_and_keeps_shape_and_dtype(face):
    for p in [perturb.Perturbation(brightness=50), perturb.Perturbation(contrast=0.3),
              perturb.Perturbation(blur_sigma=2), perturb.Perturbation(rotation=20),
              perturb.Perturbation(mirror=True), perturb.Perturbation(patch_size=0.3)]:
        out = perturb.apply(face, p)
        assert out.shape == face.shape and out.dtype == np.uint8
        assert not np.array_equal(out, face), p


def test_perturbations_do_what_they_say(face):
    assert perturb.adjust_brightness(face, 300).min() == 255
    assert perturb.adjust_contrast(face, 0.0).std() < 1
    assert np.array_equal(perturb.mirror(face)[:, 0], face[:, -1])
    patched = perturb.occlude(face, 0.5, 0.5, 0.25)
    assert (patched[18:30, 18:30] == 0).all() and np.array_equal(patched[:10], face[:10])
    assert perturb.blur(face, 3).std() < face.std()
    colour = np.dstack([face] * 3)
    assert perturb.apply(colour, perturb.Perturbation(rotation=45, mirror=True)).shape == colour.shape
    with pytest.raises(ValueError):
        perturb.apply(face.astype(np.float32), perturb.Perturbation())


def test_occlusion_saliency_finds_the_pixels_the_model_uses():
    """A fake 'model' whose class-0 score is the brightness of the top-left quarter: the map lights up there."""
    def predict(batch: np.ndarray) -> np.ndarray:
        score = (batch[:, :32, :32, 0].mean(axis=(1, 2)) + 1) / 2
        return np.stack([score, 1 - score], axis=1)

    x = np.ones((64, 64, 1), dtype=np.float32)
    heat = occlusion_saliency(x, predict, target=0)
    assert heat.shape == (64, 64) and heat.max() == pytest.approx(1.0)
    assert heat[:24, :24].mean() > 0.5 and heat[40:, 40:].max() == 0.0


def test_occlusion_saliency_on_the_real_model_and_overlay():
    from fer_core.classifier import EmotionClassifier
    from fer_core.io import load_image
    from fer_core.preprocess import prepare_face, to_gray
    from pathlib import Path

    path = next((Path(__file__).resolve().parents[1] / "samples" / "fer2013_mini" / "happy").glob("*.jpg"))
    gray = to_gray(load_image(path))
    classifier = EmotionClassifier()
    heat = occlusion_saliency(prepare_face(gray, classifier.input_size), classifier.predict, target=3)
    assert heat.shape == (classifier.input_size,) * 2 and 0 <= heat.min() and heat.max() <= 1
    rgb = overlay(gray, heat, size=128)
    assert rgb.shape == (128, 128, 3) and rgb.dtype == np.uint8
