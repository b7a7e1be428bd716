"""Train an emotion model from scratch or fine-tune a registry model, and register the result.

    # the project's own model, stage 1 (FER2013 Training to fit, PublicTest to choose)
    python -m fer_core.train --data data/Training --val data/PublicTest --arch mini_xception_wide \\
        --epochs 45 --name mini_xception_wide48 --out models/mini_xception_wide48

    # fine-tune the pre-trained model on your own class folders, freezing the stem and first module
    python -m fer_core.train --data my_faces/ --val-split 0.15 --finetune mini_xception_fer2013 \\
        --freeze-blocks 2 --epochs 10 --lr 3e-4 --name my_model

Data is a folder of class folders (`DATA/happy/*.jpg`, ... named after the seven emotions) or a FER2013
CSV (`emotion,pixels,Usage`; with a Usage column and no --val, Training rows fit and PublicTest rows
validate). The data is checked completely before training starts; problems are reported in one line.

Writes into the model folder (`--out`, default `models/NAME`): `model.tflite`, `model.keras`,
`model.json`, `README.md` (the model card, with the exact command line), `training_log.csv` and
`learning_curves.html`. Checkpoints of every epoch (for `--resume`) go to `runs/NAME/` unless
`--checkpoint-dir` says otherwise.

The Python API (`train(TrainConfig(...), on_epoch_end=...)`) is what the dashboard's Training page calls.

TensorFlow's oneDNN kernels make 48x48 training about 1.8x faster here, but crash (segfault) on a partial
training batch, so every epoch uses full batches only (the faces left over are reshuffled each epoch). They
also crash Mini-XCEPTION training at 64x64 even with full batches (checked), so oneDNN is switched on for
inputs of 48 pixels or less and off above (unless the environment already sets TF_ENABLE_ONEDNN_OPTS, or
TensorFlow was imported before).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .augment import PRESETS, augment_batch, scale
from .datasets import FaceDataset, ferplus_soft_labels, load_dataset, split_validation
from .emotions import EMOTIONS
from .errors import DatasetError, FerError
from .models import MODELS_DIR, REPO_ROOT, get_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DEFAULT_ARCH = "mini_xception_wide"


class TrainingError(FerError):
    """The training options do not fit together (e.g. an input size a fine-tuned model cannot take)."""


@dataclass
class TrainConfig:
    data: str
    val: str | None = None
    val_split: float = 0.1
    name: str | None = None
    title: str | None = None
    out: str | None = None
    finetune: str | None = None
    freeze_blocks: int = 0
    arch: str = DEFAULT_ARCH
    input_size: int | None = None
    epochs: int = 30
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    schedule: str = "cosine"            # cosine (with warm-up) | plateau (halve on a val-accuracy plateau)
    warmup_epochs: int = 2
    patience: int = 12                  # early stopping on val accuracy (0 = never)
    label_smoothing: float = 0.0
    soft_labels: str | None = None      # FER+ votes CSV
    soft_weight: float = 0.3
    class_weights: bool = False
    augment: str = "standard"           # none | light | standard | strong
    dropout: float = 0.3
    seed: int = 0
    resume: bool = False
    checkpoint_dir: str | None = None
    face_margin: float = 0.1
    verbose: int = 1
    command: str = ""                   # the command line, for the card

    def resolved_name(self) -> str:
        if self.name:
            return self.name
        if self.out:
            return Path(self.out).name
        return f"{self.finetune}_finetuned" if self.finetune else f"{self.arch}_trained"


@dataclass
class TrainResult:
    model_dir: Path
    name: str
    history: list[dict[str, float]]
    best_epoch: int
    metrics: dict[str, Any]
    seconds: float
    stopped_early: bool = False
    config: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- data
def prepare_data(cfg: TrainConfig, input_size: int) -> tuple[FaceDataset, FaceDataset]:
    """Load and check the training and validation data (raises DatasetError before any training)."""
    data = Path(cfg.data)
    is_csv = data.is_file() and data.suffix.lower() == ".csv"
    if cfg.val:
        train_ds = load_dataset(data, size=input_size, usage="Training" if is_csv and _csv_has_usage(data) else None)
        val_ds = load_dataset(cfg.val, size=input_size, usage="PublicTest" if _is_csv_with_usage(cfg.val) else None,
                              min_classes=1)
    elif is_csv and _csv_has_usage(data):
        train_ds = load_dataset(data, size=input_size, usage="Training")
        val_ds = load_dataset(data, size=input_size, usage="PublicTest", min_classes=1)
    else:
        train_ds, val_ds = split_validation(load_dataset(data, size=input_size), cfg.val_split, cfg.seed)
    if cfg.soft_labels:
        train_ds.soft = ferplus_soft_labels(cfg.soft_labels, train_ds, cfg.soft_weight)
    if len(train_ds) < 2:
        raise DatasetError("The training set needs at least two faces.")
    return train_ds, val_ds


def _csv_has_usage(path: Path) -> bool:
    with open(path, encoding="utf-8-sig") as fh:
        return "Usage" in fh.readline()


def _is_csv_with_usage(path: str | Path) -> bool:
    p = Path(path)
    return p.is_file() and p.suffix.lower() == ".csv" and _csv_has_usage(p)


def class_weight_vector(y: np.ndarray) -> np.ndarray:
    """Inverse-frequency weights (mean 1 over the faces), 0 for absent classes."""
    counts = np.bincount(y, minlength=len(EMOTIONS)).astype(np.float64)
    w = np.where(counts > 0, len(y) / (np.count_nonzero(counts) * np.maximum(counts, 1)), 0.0)
    return w.astype(np.float32)


def _make_sequence(ds: FaceDataset, batch_size: int, augment: str, seed: int, weights: np.ndarray | None,
                   start_epoch: int = 0):
    import keras

    aug = PRESETS[augment]
    targets = ds.soft if ds.soft is not None else np.eye(len(EMOTIONS), dtype=np.float32)[ds.y]

    class FaceSequence(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = start_epoch
            self._shuffle()

        def _shuffle(self):
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(ds))

        def __len__(self):
            # Full batches only: a last, partial batch crashes oneDNN's training kernels on this CPU
            # (segfault with 28709 % 128 = 37 faces); the faces left out change every epoch (reshuffled).
            return max(1, len(ds) // batch_size)

        def __getitem__(self, idx):
            sel = self.order[idx * batch_size:(idx + 1) * batch_size]
            rng = np.random.default_rng([seed, self.epoch, idx])
            xb = augment_batch(ds.x[sel], rng, aug)
            yb = targets[sel]
            if weights is not None:
                return xb, yb, weights[ds.y[sel]]
            return xb, yb

        def on_epoch_end(self):
            self.epoch += 1
            self._shuffle()

    return FaceSequence()


# --------------------------------------------------------------------------------------------- model
def _configure_tf(input_size: int) -> None:
    if "tensorflow" not in sys.modules:
        if "TF_ENABLE_ONEDNN_OPTS" not in os.environ:
            os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if input_size <= 48 else "0"
    elif input_size > 48 and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
        # Better a message than a segfault that takes the process (maybe the dashboard) down.
        raise TrainingError(f"Training at {input_size}x{input_size} needs TensorFlow's oneDNN kernels off, but "
                            "TensorFlow is already loaded with them on; restart with TF_ENABLE_ONEDNN_OPTS=0.")


def block_boundaries(model: Any) -> list[int]:
    """Layer indices ending each block: the stem, then every residual module (its Add layer)."""
    import keras

    layers = model.layers
    first_module = next((i for i, layer in enumerate(layers)
                         if isinstance(layer, keras.layers.Conv2D) and tuple(layer.strides) == (2, 2)), None)
    bounds = [first_module - 1] if first_module else []
    bounds += [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Add)]
    return bounds


def freeze_blocks(model: Any, n: int) -> int:
    """Freeze the first `n` blocks (stem = block 1); returns how many layers were frozen."""
    if n <= 0:
        return 0
    bounds = block_boundaries(model)
    if n > len(bounds):
        raise TrainingError(f"--freeze-blocks {n} is more than the model's {len(bounds)} blocks.")
    last = bounds[n - 1]
    for layer in model.layers[: last + 1]:
        layer.trainable = False
    return last + 1


def build_model(cfg: TrainConfig) -> tuple[Any, int]:
    """The model to train (built, or loaded from the registry to fine-tune) and its input size."""
    import keras

    from . import architectures

    if cfg.finetune:
        spec = get_model(cfg.finetune)
        if not spec.keras_path or not spec.keras_path.exists():
            raise TrainingError(f"Model '{spec.name}' has no Keras weights to fine-tune from.")
        model = keras.models.load_model(str(spec.keras_path), compile=False)
        if int(model.input_shape[1]) != spec.input_size or model.output_shape[-1] != len(EMOTIONS):
            raise TrainingError(f"Model '{spec.name}' does not take {spec.input_size}px faces to 7 emotions.")
        freeze_blocks(model, cfg.freeze_blocks)
        return model, spec.input_size
    size = cfg.input_size or 48
    kwargs: dict[str, Any] = {"dropout": cfg.dropout} if cfg.arch == "mini_xception_wide" else {}
    model = architectures.build(cfg.arch, size, len(EMOTIONS), **kwargs)
    freeze_blocks(model, cfg.freeze_blocks)
    return model, size


def finetune_input_size(cfg: TrainConfig) -> int:
    """The input size implied by the options, known without importing TensorFlow."""
    if cfg.finetune:
        size = get_model(cfg.finetune).input_size
        if cfg.input_size and cfg.input_size != size:
            raise TrainingError(f"Model '{cfg.finetune}' takes {size}x{size} faces; --input-size "
                                f"{cfg.input_size} cannot be used to fine-tune it.")
        return size
    return cfg.input_size or 48


def lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Cosine decay with a linear warm-up, per epoch (epoch counted from 0)."""
    if cfg.schedule != "cosine":
        return cfg.lr
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch + 1) / (cfg.warmup_epochs + 1)
    span = max(1, cfg.epochs - cfg.warmup_epochs)
    t = min(1.0, (epoch - cfg.warmup_epochs) / span)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


# --------------------------------------------------------------------------------------------- evaluation
def predict(model: Any, x: np.ndarray, tta: bool = False, batch_size: int = 512) -> np.ndarray:
    """Probabilities for uint8 faces; with `tta`, averaged with the mirror image's."""
    xs = scale(x)
    probs = model.predict(xs, batch_size=batch_size, verbose=0)
    if tta:
        probs = (probs + model.predict(xs[:, :, ::-1], batch_size=batch_size, verbose=0)) / 2
    return probs


def accuracy_report(y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    pred = probs.argmax(1)
    per_class = {}
    for i, name in enumerate(EMOTIONS):
        mask = y == i
        if mask.any():
            per_class[name] = round(float((pred[mask] == i).mean()), 4)
    confusion = np.zeros((len(EMOTIONS), len(EMOTIONS)), int)
    np.add.at(confusion, (y, pred), 1)
    return {"accuracy": round(float((pred == y).mean()), 4), "per_class": per_class, "n": int(len(y)),
            "confusion": confusion.tolist()}


def tflite_ms_per_face(tflite_path: Path, repeats: int = 300) -> float:
    """Median-of-3 mean latency of one face at batch 1 with the TFLite interpreter, one thread."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite_path), num_threads=1)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    shape = list(inp["shape"])
    shape[0] = 1
    it.resize_tensor_input(inp["index"], shape)
    it.allocate_tensors()
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    for _ in range(30):
        it.set_tensor(inp["index"], x)
        it.invoke()
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            it.set_tensor(inp["index"], x)
            it.invoke()
            it.get_tensor(out["index"])
        runs.append((time.perf_counter() - t0) / repeats * 1000)
    return round(float(np.median(runs)), 3)


# --------------------------------------------------------------------------------------------- outputs
def write_log(history: list[dict[str, float]], path: Path) -> None:
    import pandas as pd

    pd.DataFrame(history).to_csv(path, index=False)


def learning_curves_figure(history: list[dict[str, float]], title: str = "") -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    epochs = [h["epoch"] for h in history]
    for key, col, dash in (("loss", 1, None), ("val_loss", 1, "dash"), ("accuracy", 2, None),
                           ("val_accuracy", 2, "dash")):
        fig.add_scatter(x=epochs, y=[h.get(key) for h in history], name=key, mode="lines+markers",
                        line={"dash": dash}, row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title=title, height=420, margin={"t": 60, "b": 40})
    return fig


def write_card(out_dir: Path, cfg: TrainConfig, name: str, title: str, train_ds: FaceDataset,
               val_ds: FaceDataset, metrics: dict[str, Any], history: list[dict[str, float]],
               best_epoch: int, seconds: float, params: int) -> None:
    val = metrics.get("val", {})
    val_tta = metrics.get("val_tta", {})
    lines = [
        f"# {title}", "",
        f"`{name}`: {'fine-tuned from `' + cfg.finetune + '`' if cfg.finetune else cfg.arch + ' trained from scratch'}"
        f" on {len(train_ds)} faces, {metrics['input_size']}x{metrics['input_size']} grayscale scaled to [-1, 1], "
        f"{params:,} parameters. Face crops: the detector's box grown by {cfg.face_margin:.0%} on each side, "
        "then squared.", "",
        "## Data", "",
        f"- training: `{cfg.data}` ({len(train_ds)} faces: "
        + ", ".join(f"{k} {v}" for k, v in train_ds.class_counts().items()) + ")",
        f"- validation (model selection): `{cfg.val or f'{cfg.val_split:.0%} stratified split'}` ({len(val_ds)} faces)",
    ]
    if cfg.soft_labels:
        lines.append(f"- soft labels: FER+ votes `{cfg.soft_labels}`, target = {1 - cfg.soft_weight:.2f} x one-hot "
                     f"+ {cfg.soft_weight:.2f} x vote distribution")
    lines += [
        "", "## Recipe", "",
        f"- optimizer AdamW, lr {cfg.lr:g}, weight decay {cfg.weight_decay:g}, batch {cfg.batch_size}, "
        f"schedule {cfg.schedule}" + (f" (warm-up {cfg.warmup_epochs} epochs)" if cfg.schedule == "cosine" else ""),
        f"- augmentation `{cfg.augment}`: {json.dumps(PRESETS[cfg.augment].to_json()) if PRESETS[cfg.augment] else 'none'}",
        f"- label smoothing {cfg.label_smoothing:g}, class weights {'on' if cfg.class_weights else 'off'}, "
        f"dropout {cfg.dropout:g}, freeze blocks {cfg.freeze_blocks}, seed {cfg.seed}",
        f"- epochs run {len(history)} of {cfg.epochs} (early-stopping patience {cfg.patience}); best epoch "
        f"{best_epoch} (highest validation accuracy) kept; {seconds / 60:.1f} min on this machine's CPU",
        "", "Command:", "", "```", cfg.command or "(Python API)", "```",
        "", "## Evaluation", "",
        f"Validation set: {val.get('n', 0)} faces. Per-face cost: {metrics.get('ms_per_face', float('nan'))} ms "
        "(TFLite, batch 1, one thread, mean over 300 calls, median of 3 runs).", "",
        "| | overall | " + " | ".join(EMOTIONS) + " |",
        "| --- | --- | " + " | ".join("---" for _ in EMOTIONS) + " |",
    ]
    for label, rep in (("accuracy", val), ("with mirror TTA", val_tta)):
        if rep:
            lines.append(f"| {label} | {rep['accuracy']:.2%} | "
                         + " | ".join(f"{rep['per_class'][e]:.1%}" if e in rep["per_class"] else "-" for e in EMOTIONS)
                         + " |")
    lines += ["", "Files: `model.tflite` (runtime), `model.keras` (fine-tuning, saliency), `training_log.csv`, "
              "`learning_curves.html`.", ""]
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------------------------- training
def train(cfg: TrainConfig, on_epoch_end: Callable[[dict[str, float], list[dict[str, float]]], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train, keep the best epoch on validation accuracy, write and register the model folder.

    `on_epoch_end(record, history)` is called after every epoch (record: epoch, loss, accuracy, val_loss,
    val_accuracy, lr, seconds); `should_stop()` is polled after every epoch to stop early on request.
    """
    if cfg.augment not in PRESETS:
        raise TrainingError(f"Unknown augmentation '{cfg.augment}'; choose one of {', '.join(PRESETS)}.")
    if cfg.schedule not in ("cosine", "plateau"):
        raise TrainingError(f"Unknown schedule '{cfg.schedule}'; choose cosine or plateau.")
    if cfg.epochs < 1:
        raise TrainingError("--epochs must be at least 1.")
    input_size = finetune_input_size(cfg)
    train_ds, val_ds = prepare_data(cfg, input_size)  # all data checks happen here, before TF is imported
    name = cfg.resolved_name()
    out_dir = Path(cfg.out) if cfg.out else MODELS_DIR / name
    ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else REPO_ROOT / "runs" / name
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    _configure_tf(input_size)
    import keras

    keras.utils.set_random_seed(cfg.seed)
    state_path = ckpt_dir / "state.json"
    history: list[dict[str, float]] = []
    best_val, best_epoch, start_epoch = -1.0, 0, 0
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    if cfg.resume and state_path.exists() and (ckpt_dir / "last.keras").exists():
        state = json.loads(state_path.read_text())
        history, best_val, best_epoch = state["history"], state["best_val"], state["best_epoch"]
        start_epoch = len(history)
        model = keras.models.load_model(str(ckpt_dir / "last.keras"))
        params = model.count_params()
        print(f"resuming from epoch {start_epoch} (best val accuracy {best_val:.4f} at epoch {best_epoch})")
    else:
        model, _ = build_model(cfg)
        params = model.count_params()
        model.compile(optimizer=keras.optimizers.AdamW(cfg.lr, weight_decay=cfg.weight_decay), loss=loss,
                      metrics=["accuracy"])
    weights = class_weight_vector(train_ds.y) if cfg.class_weights else None
    seq = _make_sequence(train_ds, min(cfg.batch_size, len(train_ds)), cfg.augment, cfg.seed, weights, start_epoch)
    x_val = scale(val_ds.x)
    y_val = np.eye(len(EMOTIONS), dtype=np.float32)[val_ds.y]
    t_start = time.time()
    stopped = {"early": False}

    class Driver(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.wait = 0 if not history else len(history) - best_epoch
            self.plateau_wait = 0
            self.t0 = time.time()

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.time()
            if cfg.schedule == "cosine":
                self.model.optimizer.learning_rate = lr_at(cfg, epoch)

        def on_epoch_end(self, epoch, logs=None):
            nonlocal best_val, best_epoch
            logs = logs or {}
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            record = {"epoch": epoch + 1, "loss": float(logs.get("loss", np.nan)),
                      "accuracy": float(logs.get("accuracy", np.nan)),
                      "val_loss": float(logs.get("val_loss", np.nan)),
                      "val_accuracy": float(logs.get("val_accuracy", np.nan)), "lr": lr,
                      "seconds": round(time.time() - self.t0, 1)}
            history.append(record)
            improved = record["val_accuracy"] > best_val
            if improved:
                best_val, best_epoch = record["val_accuracy"], epoch + 1
                self.model.save(str(ckpt_dir / "best.keras"))
                self.wait = self.plateau_wait = 0
            else:
                self.wait += 1
                self.plateau_wait += 1
            if cfg.schedule == "plateau" and self.plateau_wait >= 3:
                self.model.optimizer.learning_rate = max(lr * 0.5, cfg.lr * 1e-3)
                self.plateau_wait = 0
            self.model.save(str(ckpt_dir / "last.keras"))
            state_path.write_text(json.dumps({"history": history, "best_val": best_val, "best_epoch": best_epoch,
                                              "config": asdict(cfg)}, indent=1))
            write_log(history, ckpt_dir / "training_log.csv")
            if cfg.verbose:
                print(f"epoch {epoch + 1}/{cfg.epochs}: loss {record['loss']:.4f} acc {record['accuracy']:.4f} "
                      f"val_loss {record['val_loss']:.4f} val_acc {record['val_accuracy']:.4f} lr {lr:.2e} "
                      f"{record['seconds']:.0f}s{' *best*' if improved else ''}", flush=True)
            if on_epoch_end:
                on_epoch_end(record, history)
            if cfg.patience and self.wait >= cfg.patience:
                stopped["early"] = True
                self.model.stop_training = True
            if should_stop and should_stop():
                stopped["early"] = True
                self.model.stop_training = True

    if start_epoch < cfg.epochs:
        model.fit(seq, validation_data=(x_val, y_val), epochs=cfg.epochs, initial_epoch=start_epoch,
                  callbacks=[Driver()], verbose=1 if cfg.verbose and sys.stdout.isatty() else 0)
    seconds = time.time() - t_start + (sum(h["seconds"] for h in history[:start_epoch]) if start_epoch else 0)

    best = keras.models.load_model(str(ckpt_dir / "best.keras"), compile=False)
    for layer in best.layers:
        layer.trainable = True
    metrics: dict[str, Any] = {"input_size": input_size, "best_epoch": best_epoch, "epochs_run": len(history),
                               "val_data": cfg.val or f"split {cfg.val_split}",
                               "val": accuracy_report(val_ds.y, predict(best, val_ds.x)),
                               "val_tta": accuracy_report(val_ds.y, predict(best, val_ds.x, tta=True)),
                               "train_minutes": round(seconds / 60, 1)}
    title = cfg.title or (f"{cfg.finetune} fine-tuned" if cfg.finetune else f"{cfg.arch} {input_size}px (trained here)")
    from .convert import write_model_folder

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("model.keras", "model.tflite"):
        (out_dir / stale).unlink(missing_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):  # the TFLite converter prints every tensor signature
        write_model_folder(best, out_dir, name, title, face_margin=cfg.face_margin,
                           description=f"Trained by fer_core.train on {Path(cfg.data).name}; "
                                       f"validation accuracy {metrics['val']['accuracy']:.1%}.",
                           metrics={})
    metrics["ms_per_face"] = tflite_ms_per_face(out_dir / "model.tflite")
    spec_path = out_dir / "model.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec["metrics"] = {k: v for k, v in metrics.items() if k not in ("val", "val_tta")} | {
        "val_accuracy": metrics["val"]["accuracy"], "val_accuracy_tta": metrics["val_tta"]["accuracy"],
        "val_per_class": metrics["val"]["per_class"], "val_per_class_tta": metrics["val_tta"]["per_class"]}
    spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    write_log(history, out_dir / "training_log.csv")
    learning_curves_figure(history, title).write_html(str(out_dir / "learning_curves.html"),
                                                      include_plotlyjs="cdn")
    write_card(out_dir, cfg, name, title, train_ds, val_ds, metrics, history, best_epoch, seconds, params)
    return TrainResult(out_dir, name, history, best_epoch, metrics, seconds, stopped["early"], asdict(cfg))


# --------------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fer_core.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of class folders, or a FER2013 CSV")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--val", help="validation folder or CSV (model selection, early stopping)")
    g.add_argument("--val-split", type=float, default=0.1, help="fraction held out when --val is absent")
    m = p.add_mutually_exclusive_group()
    m.add_argument("--from-scratch", action="store_true", help="build --arch from scratch (the default)")
    m.add_argument("--finetune", metavar="MODEL", help="start from a registry model's Keras weights")
    p.add_argument("--freeze-blocks", type=int, default=0, help="freeze the first N blocks (stem = 1)")
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=("mini_xception", "mini_xception_wide"))
    p.add_argument("--input-size", type=int, help="face side in pixels (default 48; fine-tuning: the model's)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--schedule", choices=("cosine", "plateau"), default="cosine")
    p.add_argument("--warmup-epochs", type=int, default=2)
    p.add_argument("--patience", type=int, default=12, help="early-stopping patience in epochs (0: off)")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--soft-labels", metavar="FERPLUS_CSV", help="blend FER+ vote distributions into targets")
    p.add_argument("--soft-weight", type=float, default=0.3)
    p.add_argument("--class-weights", action="store_true", help="inverse-frequency class weights")
    p.add_argument("--augment", choices=tuple(PRESETS), default="standard")
    p.add_argument("--dropout", type=float, default=0.3, help="before the classifier (mini_xception_wide)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--checkpoint-dir", help="default runs/NAME")
    p.add_argument("--name", help="registry name (default: from --out or the recipe)")
    p.add_argument("--title")
    p.add_argument("--out", help="model folder (default models/NAME)")
    p.add_argument("--face-margin", type=float, default=0.1)
    p.add_argument("--quiet", action="store_true")
    return p


def config_from_args(args: argparse.Namespace, argv: list[str]) -> TrainConfig:
    kwargs = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    kwargs["verbose"] = 0 if args.quiet else 1
    kwargs["command"] = "python -m fer_core.train " + " ".join(shlex.quote(a) for a in argv)
    return TrainConfig(**kwargs)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        result = train(config_from_args(args, argv))
    except FerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; resume with the same command and --resume", file=sys.stderr)
        return 130
    val, tta = result.metrics["val"], result.metrics["val_tta"]
    print(f"best epoch {result.best_epoch}: validation accuracy {val['accuracy']:.2%} "
          f"({tta['accuracy']:.2%} with mirror TTA), {result.metrics['ms_per_face']} ms per face; "
          f"model '{result.name}' written to {result.model_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
