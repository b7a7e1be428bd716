"""What a training run reports: accuracy per class, confusion, cost per face, the log, curves and the card.

The card is written from two records: `training.json` (written where the model trained, GPU or CPU: the
resolved configuration, the per-epoch history, the time and the hardware) and the evaluation of the
converted TFLite model on this machine (what users actually run), so every figure on a card comes from
the runtime path.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..emotions import EMOTIONS
from ..preprocess import scale_pixels
from .augmentation import PRESETS
from .mixing import DEFAULT_ALPHA

RECORD_FILE = "training.json"
LOG_FILE = "training_log.csv"


@dataclass
class TrainingRecord:
    """How a model was trained; stored as training.json next to the weights."""

    name: str
    title: str
    config: dict[str, Any]
    history: list[dict[str, float]]
    best_epoch: int
    kept_epoch: int
    seconds: float
    params: int
    input_size: int
    backend: str
    precision: str
    hardware: str
    train_faces: dict[str, int]
    val_faces: int
    stopped_early: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)  # validation, measured where it trained

    def save(self, folder: Path) -> Path:
        path = Path(folder) / RECORD_FILE
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> "TrainingRecord":
        data = json.loads((Path(folder) / RECORD_FILE).read_text(encoding="utf-8"))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def to_model_input(faces: np.ndarray) -> np.ndarray:
    """uint8 faces (N, S, S) -> the models' input (N, S, S, 1) in [-1, 1]."""
    return scale_pixels(faces)[..., None]


def predict(model: Any, faces: np.ndarray, tta: bool = False, batch_size: int = 512) -> np.ndarray:
    """A Keras model's probabilities for uint8 faces; with `tta`, averaged with the mirror image's."""
    x = to_model_input(faces)
    probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float32)
    if tta:
        probs = (probs + np.asarray(model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0), np.float32)) / 2
    return probs


def accuracy_report(y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Accuracy, recall per class present and the confusion matrix (rows: true class, columns: predicted)."""
    from ..evaluate import metrics

    accuracy, per_class, confusion = metrics(y, probs.argmax(1), list(EMOTIONS))
    recall = {name: m["recall"] for name, m in per_class.items() if m["support"]}
    return {"accuracy": round(accuracy, 4), "per_class": recall, "n": int(len(y)), "confusion": confusion.tolist()}


def write_log(history: list[dict[str, float]], path: Path) -> None:
    import pandas as pd

    pd.DataFrame(history).to_csv(path, index=False)


def raw_note(record: dict[str, float]) -> str:
    """For an epoch's printed line under `--ema`: the running weights' validation accuracy ("" otherwise)."""
    return f" (running weights {record['raw_val_accuracy']:.4f})" if "raw_val_accuracy" in record else ""


def learning_curves_figure(history: list[dict[str, float]], title: str = "") -> Any:
    import plotly.graph_objects as go  # noqa: F401  (plotly.subplots needs it loaded)
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    epochs = [h["epoch"] for h in history]
    curves = [("loss", 1, None), ("val_loss", 1, "dash"), ("accuracy", 2, None), ("val_accuracy", 2, "dash")]
    if any("raw_val_accuracy" in h for h in history):  # --ema: the running weights, beside their average
        curves.append(("raw_val_accuracy", 2, "dot"))
    for key, col, dash in curves:
        fig.add_scatter(x=epochs, y=[h.get(key) for h in history], name=key, mode="lines+markers",
                        line={"dash": dash}, row=1, col=col)
    fig.update_xaxes(title_text="epoch", tickformat="d")
    fig.update_layout(title=title, height=420, margin={"t": 60, "b": 40})
    return fig


def _recall_row(label: str, rep: dict[str, Any]) -> str:
    cells = [f"{rep['per_class'][e]:.1%}" if e in rep["per_class"] else "-" for e in EMOTIONS]
    return f"| {label} | {rep['accuracy']:.2%} | " + " | ".join(cells) + " |"


def confusion_table(rep: dict[str, Any]) -> list[str]:
    lines = ["| true \\ predicted | " + " | ".join(EMOTIONS) + " |", "| --- |" + " --- |" * len(EMOTIONS)]
    for name, row in zip(EMOTIONS, rep["confusion"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return lines


def write_card(folder: Path, record: TrainingRecord, evaluation: dict[str, Any], notes: str = "") -> Path:
    """The model card (README.md): data, recipe, exact command, time and hardware, accuracy, confusion, cost."""
    cfg = record.config
    augment = PRESETS.get(cfg["augment"])
    val, tta = evaluation["val"], evaluation.get("val_tta")
    origin = f"fine-tuned from `{cfg['finetune']}`" if cfg.get("finetune") else f"`{cfg['arch']}` trained from scratch"
    optimizer = ("SGD, Nesterov momentum " + f"{cfg['momentum']:g}") if cfg["optimizer"] == "sgd" else "AdamW"
    val_source = cfg.get("val") or f"{cfg['val_split']:.0%} stratified split"
    weights = evaluation.get("tflite_weights", "float32")
    weights = "int8 (dynamic-range quantization: int8 weights, float activations)" if weights == "int8" else weights
    lines = [
        f"# {record.title}", "",
        f"`{record.name}`: {origin} on {sum(record.train_faces.values()):,} faces, {record.input_size}x"
        f"{record.input_size} grayscale scaled to [-1, 1], {record.params:,} parameters. Face crops: the "
        f"detector's box grown by {cfg['face_margin']:.0%} on each side, then squared.", "",
        "## Data", "",
        f"- training: `{cfg['data']}` (" + ", ".join(f"{k} {v}" for k, v in record.train_faces.items()) + ")",
        f"- validation (model selection): `{val_source}` ({record.val_faces:,} faces)",
    ]
    teachers = (f"the stored teacher probabilities `{cfg['teacher']}`" if cfg.get("teacher") else
                "the teacher networks " + ", ".join(f"`{t}`" for t in cfg.get("teacher_models") or [])
                + " run online on every augmented batch (their probabilities averaged)")
    if cfg.get("teacher") or cfg.get("teacher_models"):
        lines.append(f"- distilled from {teachers}: loss = "
                     f"{1 - cfg['distill_weight']:.1f} x cross-entropy on the labels + {cfg['distill_weight']:.1f} x "
                     f"T^2 x KL(teacher || student) at temperature T = {cfg['temperature']:g}")
    if cfg.get("soft_labels"):
        lines.append(f"- FER+ votes `{cfg['soft_labels']}` blended into the labels with weight {cfg['soft_weight']:g}")
    lines += [
        "", "## Recipe", "",
        f"- {optimizer}, lr {cfg['lr']:g}, decoupled weight decay {cfg['weight_decay']:g}, batch {cfg['batch_size']}, "
        f"{cfg['schedule']} schedule" + (f" with {cfg['warmup_epochs']} warm-up epochs" if cfg["schedule"] == "cosine" else ""),
        f"- augmentation `{cfg['augment']}` on the training device: "
        + (json.dumps(augment.to_json()) if augment else "none")
        + (f"; it works on faces already mixed by {cfg['mix']} (pairs of faces and their targets, probability "
           f"{cfg['mix_prob']:g}, Beta alpha {cfg.get('mix_alpha') or DEFAULT_ALPHA[cfg['mix']]:g})" if cfg.get("mix", "none") != "none" else ""),
        f"- label smoothing {cfg['label_smoothing']:g}, dropout {cfg['dropout'] if cfg['dropout'] is not None else 'default'}, "
        f"seed {cfg['seed']}, precision {record.precision}",
        f"- {len(record.history)} epochs run (of {cfg['epochs']} asked"
        + (f", fitted to a {cfg['time_budget']:g}-minute budget" if cfg.get("time_budget") else "") + "); "
        f"kept epoch {record.kept_epoch} ({cfg['keep']}; best validation epoch {record.best_epoch})",
        f"- {record.seconds / 60:.1f} min on {record.hardware} ("
        + ("PyTorch, `--engine torch`; the weights were handed to the Keras build by layer name, and the two "
           "checked to agree" if cfg.get("engine") == "torch" else f"Keras {record.backend} backend") + ")",
        "", "Command:", "", "```", cfg.get("command") or "(Python API)", "```",
        "", "## Evaluation (TFLite runtime, this model file)", "",
        f"Validation set: {val['n']:,} faces. Cost per face on this project's CPU: **{evaluation['ms_per_face']} ms** "
        f"(TFLite, batch 1, one thread, mean of 300 calls, median of 3 runs). TFLite weights: {weights}.", "",
        "| | overall | " + " | ".join(EMOTIONS) + " |",
        "| --- | --- | " + " | ".join("---" for _ in EMOTIONS) + " |",
        _recall_row("accuracy (recall per class)", val),
    ]
    if tta:
        lines.append(_recall_row("with mirror TTA", tta))
    lines += ["", "Confusion matrix (validation, no TTA):", "", *confusion_table(val)]
    if notes:
        lines += ["", notes.strip()]
    files = ["`model.tflite` (runtime)"]
    if (Path(folder) / "model.keras").exists():
        files.append("`model.keras` (fine-tuning, saliency)")
    files += [f"`{RECORD_FILE}` (configuration, history, hardware)", f"`{LOG_FILE}`"]
    lines += ["", "Files: " + ", ".join(files) + ".", ""]
    path = Path(folder) / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
