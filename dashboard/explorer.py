"""Data behind the Model Explorer: the bundled labelled faces, the model's predictions on them, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from .files import SAMPLES

SAMPLE_SET = SAMPLES / "fer2013_mini"


@dataclass
class SampleEvaluation:
    faces: np.ndarray  # (N, H, W) uint8 grey, as stored
    y_true: np.ndarray  # (N,) class index
    probabilities: np.ndarray  # (N, 7)
    paths: list[str]
    classes: list[str]
    accuracy: float
    per_class: dict[str, dict[str, float]]
    confusion: np.ndarray

    def file_name(self, index: int) -> str:
        return Path(self.paths[index]).name

    @property
    def y_pred(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def per_class_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.per_class).T[["precision", "recall", "f1", "support"]]

    def indices_of(self, class_index: int) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.y_true == class_index)]


def model_input(face: np.ndarray, size: int) -> np.ndarray:
    """A grey uint8 face of any size -> (size, size, 1) in [-1, 1], exactly as the pipeline prepares crops."""
    from fer_core.preprocess import prepare_face

    return prepare_face(face, size)


@st.cache_data(show_spinner="Running the model on the sample set...", max_entries=8)
def evaluate_samples(model: str | None, tta: bool, folder: str = str(SAMPLE_SET)) -> SampleEvaluation:
    """Every face of the labelled sample set through the classifier, in one batch."""
    from fer_core.errors import DatasetError
    from fer_core.evaluate import labelled_images, metrics
    from fer_core.io import load_image
    from fer_core.preprocess import to_gray

    from .resources import classifier_for

    classifier = classifier_for(model, tta)
    items = list(labelled_images(Path(folder)))
    if not items:
        raise DatasetError(f"The sample set {folder} has no images.")
    faces = [to_gray(load_image(path)) for path, _ in items]
    batch = np.stack([model_input(f, classifier.input_size) for f in faces])
    probabilities = classifier.predict(batch)
    y_true = np.array([label for _, label in items], dtype=int)
    classes = list(classifier.classes)
    accuracy, per_class, cm = metrics(y_true, probabilities.argmax(axis=1), classes)
    return SampleEvaluation(
        faces=np.stack(faces), y_true=y_true, probabilities=probabilities, paths=[str(p) for p, _ in items],
        classes=classes, accuracy=accuracy, per_class=per_class, confusion=cm,
    )


@st.cache_data(show_spinner=False, max_entries=256)
def saliency_map(model: str | None, tta: bool, face: np.ndarray, target: int, stride: int = 2) -> np.ndarray:
    """Occlusion map of one sample face (cached: moving a playground slider does not recompute it)."""
    from fer_core.saliency import occlusion_saliency

    from .resources import classifier_for

    classifier = classifier_for(model, tta)
    return occlusion_saliency(model_input(face, classifier.input_size), classifier.predict, target, patch=8,
                              stride=stride)


def model_comparison() -> pd.DataFrame:
    """Every registry model with its role, recorded PublicTest accuracy and cost per face, side by side."""
    from fer_core.models import aliases_of, list_models

    rows = [{"model": s.name, "aliases": ", ".join(aliases_of(s.name)), "PublicTest": s.accuracy,
             "with mirror TTA": s.metrics.get("val_accuracy_tta"), "ms per face": s.ms_per_face, "title": s.title}
            for s in list_models()]
    return pd.DataFrame(rows)
