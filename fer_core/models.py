"""The model registry: every folder under `models/` with a `model.json` is a model.

A model folder holds the weights the fast runtime reads (`model.tflite`), optionally the Keras weights it
was converted from (for training, fine-tuning and saliency), its card (`README.md`) and `model.json`, which
records how faces must be preprocessed for it and what it measured (PublicTest accuracy, cost per face).
Preprocessing lives with the weights because a model fed crops prepared differently from its training data
loses accuracy without any error.

Users choose by role rather than by name: `models/aliases.json` maps `fast`, `accurate`, `best` and
`default` to model names (or to another alias), and every lookup accepts an alias where it takes a name.
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
ALIASES_FILE = "aliases.json"
SPEC_FILE = "model.json"
ALIAS_ROLES: dict[str, str] = {
    "fast": "small and quick, for video and the webcam",
    "accurate": "the most accurate single network",
    "best": "the most accurate option (an ensemble), at the highest cost",
    "default": "used when no model is chosen",
}
FALLBACK_MODEL = "mini_xception_fer2013"


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
    short_title: str = ""
    """A name short enough for a menu ("ResNet-18 128 ep"): the model picker shows it where the model has no
    role (Fast, Accurate, Best); empty: the model's name."""
    temperature: float = 1.0
    """Divides the log-probabilities before use (fer_core.calibration): fitted on PublicTest so that "90 %"
    means right 9 times in 10. 1.0 (no change) for a model.json without one. An ensemble averages its
    members' raw probabilities, then applies its own (that measured better than averaging calibrated members:
    the card of `resnet_ensemble` has the figures)."""
    temperature_tta: float | None = None
    """The temperature for mirror test-time augmentation, which softens the probabilities by itself
    (`temperature` when absent)."""

    def temperature_for(self, tta: bool) -> float:
        return self.temperature_tta if tta and self.temperature_tta is not None else self.temperature

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

    @property
    def accuracy(self) -> float | None:
        """Accuracy on the validation data recorded in model.json (FER2013 PublicTest for shipped models)."""
        return self.metrics.get("val_accuracy")

    @property
    def ms_per_face(self) -> float | None:
        """Classifier cost per face on the project's CPU (TFLite, batch 1, one thread), as recorded."""
        return self.metrics.get("ms_per_face")

    @property
    def comparable(self) -> bool:
        """Whether `accuracy` was measured on FER2013 PublicTest, the one set every shipped model is scored
        on (a model trained on the Training page is scored on a split of its own upload: not comparable)."""
        return Path(str(self.metrics.get("val_data", ""))).name == "PublicTest"

    @property
    def shipped(self) -> bool:
        """Whether the model comes with the project (a folder of `models/`), not trained here by a user."""
        return self.directory.resolve().parent == MODELS_DIR.resolve()

    def summary(self) -> str:
        """Accuracy and cost side by side, e.g. "65.2% PublicTest · 0.40 ms/face" (what every list shows).

        Only FER2013 PublicTest figures compare across models; any other validation set is said to be the
        model's own (a model trained on the Training page is validated on a split of its upload).
        """
        data = Path(str(self.metrics.get("val_data", ""))).name
        where = "PublicTest" if data == "PublicTest" else "on its own validation faces"
        accuracy = f"{self.accuracy:.1%} {where}" if self.accuracy is not None else "accuracy not measured"
        cost = f"{self.ms_per_face:.2f} ms/face" if self.ms_per_face is not None else "cost not measured"
        return f"{accuracy} · {cost}"

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


def aliases() -> dict[str, str]:
    """Alias -> what it points to, as written in `models/aliases.json` (a model name or another alias)."""
    path = MODELS_DIR / ALIASES_FILE
    written = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {"default": FALLBACK_MODEL} | {str(k): str(v) for k, v in written.items()}


def resolve(name: str | None) -> str:
    """The model name behind `name`, following aliases (None means "default")."""
    table = aliases()
    name = name or "default"
    for _ in range(len(table) + 1):
        if name not in table:
            return name
        name = table[name]
    raise ModelNotFoundError(f"The aliases in {MODELS_DIR / ALIASES_FILE} point at each other in a circle.")


def aliases_of(model_name: str) -> list[str]:
    """The aliases that lead to `model_name`, in the order of ALIAS_ROLES."""
    found = [alias for alias in aliases() if resolve(alias) == model_name]
    return sorted(found, key=lambda a: list(ALIAS_ROLES).index(a) if a in ALIAS_ROLES else len(ALIAS_ROLES))


def default_model_name() -> str:
    """The model used when none is chosen (the `default` alias)."""
    return resolve("default")


def get_model(name: str | None = None, extra_dirs: list[Path] | None = None) -> ModelSpec:
    """Look a model up by name or alias (the default model when `name` is None)."""
    wanted = resolve(name)
    for spec in list_models(extra_dirs):
        if spec.name == wanted:
            return spec
    known = ", ".join(s.name for s in list_models(extra_dirs)) or "none"
    raise ModelNotFoundError(f"Unknown model '{name}'; available models: {known} (or an alias: "
                             f"{', '.join(aliases())}).")


def describe(spec: ModelSpec) -> str:
    """One line for lists: name, its aliases, accuracy and cost, title."""
    tags = aliases_of(spec.name)
    return f"{spec.name}{' (' + ', '.join(tags) + ')' if tags else ''}: {spec.summary()} - {spec.title}"


def record_metrics(spec: ModelSpec, metrics: dict[str, Any]) -> ModelSpec:
    """Merge measured figures into the model's `model.json` (what lists and cards read back)."""
    path = spec.directory / SPEC_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["metrics"] = dict(data.get("metrics") or {}) | metrics
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return load_spec(spec.directory)


# --- roles, for people -------------------------------------------------------------------------------------

ROLE_TITLES: dict[str, str] = {"fast": "Fast", "accurate": "Accurate", "best": "Best"}
"""The roles a user chooses between, in the order the model picker lists them."""


def primary_role(model_name: str) -> str | None:
    """The role ("fast", "accurate" or "best") the model plays, or None for any other model."""
    return next((a for a in aliases_of(model_name) if a in ROLE_TITLES), None)


def role_title(role: str | None, default: bool = False) -> str | None:
    """"Fast (default)", "Accurate", "Best" (None without a role), as the picker and result captions say it."""
    if role not in ROLE_TITLES:
        return None
    return ROLE_TITLES[role] + (" (default)" if default else "")


def picker_order(specs: list[ModelSpec]) -> list[ModelSpec]:
    """The models in the order a user meets them: the roles (fast, accurate, best), the other shipped models
    (the most accurate on PublicTest first, those not yet scored after them), then models trained on the
    Training page (never first by accident: their own validation faces are not PublicTest)."""
    roles = list(ROLE_TITLES)

    def rank(spec: ModelSpec) -> tuple:
        role = primary_role(spec.name)
        if role is not None:
            return (0, roles.index(role), "")
        scored = spec.comparable and spec.accuracy is not None
        return (1 if spec.shipped else 2, not scored, -(spec.accuracy or 0.0) if scored else 0.0, spec.name)

    return sorted(specs, key=rank)
