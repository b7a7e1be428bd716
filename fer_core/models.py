"""The model registry: every folder under `models/` with a `model.json` is a model.

A model folder holds the weights the fast runtime reads (`model.tflite`), optionally the Keras weights it
was converted from (for training, fine-tuning and saliency), its card (`README.md`) and `model.json`, which
records how faces must be preprocessed for it. Preprocessing lives with the weights because a model fed
crops prepared differently from its training data loses accuracy without any error.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .emotions import EMOTIONS
from .errors import ModelNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "models"
USER_MODELS_DIR = REPO_ROOT / "user_models"
"""Models trained on the dashboard's Training page (not committed); listed after those in `models/`."""
DEFAULT_FILE = "DEFAULT"
SPEC_FILE = "model.json"


@dataclass(frozen=True)
class ModelSpec:
    """What a model is and how to feed it."""

    name: str
    title: str
    directory: Path
    weights: str = "model.tflite"
    keras_weights: str | None = None
    input_size: int = 64
    classes: tuple[str, ...] = EMOTIONS
    face_margin: float = 0.1
    description: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] = ()
    """An ensemble: the names of registry models whose probabilities are averaged (no weights of its own)."""

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)

    @property
    def weights_path(self) -> Path:
        return self.directory / self.weights

    @property
    def keras_path(self) -> Path | None:
        return self.directory / self.keras_weights if self.keras_weights else None

    @property
    def card_path(self) -> Path:
        return self.directory / "README.md"

    def card(self) -> str:
        return self.card_path.read_text(encoding="utf-8") if self.card_path.exists() else ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("directory")
        data["classes"] = list(self.classes)
        data["members"] = list(self.members)
        return data


def _model_dirs(extra_dirs: list[Path] | None = None) -> list[Path]:
    dirs = [MODELS_DIR, USER_MODELS_DIR]
    env = os.environ.get("FER_MODELS_DIRS")
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs += list(extra_dirs or [])
    return dirs


def load_spec(directory: Path) -> ModelSpec:
    """Read `model.json` in `directory`."""
    spec_path = Path(directory) / SPEC_FILE
    if not spec_path.exists():
        raise ModelNotFoundError(f"No model found in {directory} (it has no {SPEC_FILE}).")
    data = json.loads(spec_path.read_text(encoding="utf-8"))
    data["classes"] = tuple(data.get("classes", EMOTIONS))
    data["members"] = tuple(data.get("members", ()))
    known = {f for f in ModelSpec.__dataclass_fields__ if f != "directory"}
    spec = ModelSpec(directory=Path(directory), **{k: v for k, v in data.items() if k in known})
    if not spec.is_ensemble and not spec.weights_path.exists():
        raise ModelNotFoundError(f"Model '{spec.name}' is missing its weights file {spec.weights_path}.")
    return spec


def list_models(extra_dirs: list[Path] | None = None) -> list[ModelSpec]:
    """Every model found, default first, then by name."""
    specs: dict[str, ModelSpec] = {}
    for root in _model_dirs(extra_dirs):
        if not root.is_dir():
            continue
        for spec_path in sorted(root.glob(f"*/{SPEC_FILE}")):
            try:
                spec = load_spec(spec_path.parent)
            except (ModelNotFoundError, ValueError, TypeError):
                continue
            specs.setdefault(spec.name, spec)
    default = default_model_name()
    return sorted(specs.values(), key=lambda s: (s.name != default, s.name))


def default_model_name() -> str:
    """The name written in `models/DEFAULT`; the pre-trained model if that file is absent."""
    path = MODELS_DIR / DEFAULT_FILE
    if path.exists():
        name = path.read_text(encoding="utf-8").strip()
        if name:
            return name
    return "mini_xception_fer2013"


def get_model(name: str | None = None, extra_dirs: list[Path] | None = None) -> ModelSpec:
    """Look a model up by name (the default model when `name` is None)."""
    name = name or default_model_name()
    for spec in list_models(extra_dirs):
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in list_models(extra_dirs)) or "none"
    raise ModelNotFoundError(f"Unknown model '{name}'; available models: {known}.")
