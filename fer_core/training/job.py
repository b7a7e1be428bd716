"""A training run in a process of its own: `python -m fer_core.training.job JOB_FOLDER [--finish]`.

Why a child process: TensorFlow, once imported, keeps its memory (about 600 MB after one small fine-tune)
and its thread pools for as long as the process lives, and its threads slow every later TFLite call of the
same process (the Webcam page fell from 20 to 3-6 fps). A child takes all of that with it when it ends.

The folder is the whole interface, so the caller needs neither TensorFlow nor this module's imports:
- `spec.json` (`write_spec`): {"config": TrainConfig fields, "reference": a model name or null, "split"};
- `events.jsonl` (appended here, one JSON object a line): {"event": "status", "text"}, {"event": "faces",
  "counts"}, {"event": "epoch", "record"}, then one {"event": "done", "result"} or {"event": "error",
  "message", "user_error"};
- `kept/`: after every finished epoch, a copy of the best epoch's network so far (`best.keras`) and the
  run's state (`state.json`), each replaced in one rename, so a run killed at any moment (the page's Stop)
  still has its finished epochs: `--finish` writes the model folder from them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..emotions import EMOTIONS
from ..errors import FerError

SPEC = "spec.json"
EVENTS = "events.jsonl"
KEPT = "kept"


def read_events(folder: str | Path) -> list[dict[str, Any]]:
    """Every complete event written so far (a line still being written is left for the next read)."""
    path = Path(folder) / EVENTS
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return events


def kept_epochs(folder: str | Path) -> int:
    """How many finished epochs `--finish` can build on (0: none)."""
    path = Path(folder) / KEPT / "state.json"
    if not path.exists() or not (Path(folder) / KEPT / "best.keras").exists():
        return 0
    return len(json.loads(path.read_text())["history"])


class _Events:
    def __init__(self, folder: Path) -> None:
        self.path = folder / EVENTS

    def __call__(self, event: str, **data: Any) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"event": event, "time": time.time(), **data}, default=float) + "\n")
            fh.flush()


def _replace_file(source: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _keep_epoch(ckpt_dir: Path, kept: Path, history: list[dict]) -> None:
    """Copy what a finished epoch left (the best network so far, the state) where a kill cannot tear it."""
    kept.mkdir(exist_ok=True)
    if (ckpt_dir / "best.keras").exists():
        _replace_file(ckpt_dir / "best.keras", kept / "best.keras")
    best = max(history, key=lambda r: r["val_accuracy"] if r["val_accuracy"] == r["val_accuracy"] else -1.0)
    tmp = kept / "state.json.tmp"
    tmp.write_text(json.dumps({"history": history, "best_epoch": best["epoch"]}))
    os.replace(tmp, kept / "state.json")


def reference_accuracy(cfg: Any, reference: str) -> dict | None:
    """The accuracy of an existing model (the base of a fine-tuning, else the model in use) on exactly the
    validation faces this run held out (same data, split and seed), so the new model's score has something
    to be compared with."""
    import numpy as np

    from ..classifier import EmotionClassifier
    from ..emotions import EMOTIONS
    from ..models import get_model
    from ..preprocess import prepare_face
    from .loop import prepare_data

    spec = get_model(reference)
    _, val_ds = prepare_data(cfg, spec.input_size)
    if not len(val_ds):
        return None
    classifier = EmotionClassifier(reference)
    probabilities = classifier.predict(np.stack([prepare_face(face, classifier.input_size) for face in val_ds.x]))
    predicted = [classifier.classes[i] for i in probabilities.argmax(axis=1)]
    truth = [EMOTIONS[i] for i in val_ds.y]
    return {"name": spec.name, "title": spec.title, "n": len(truth),
            "accuracy": float(np.mean([p == t for p, t in zip(predicted, truth)])),
            "recorded": spec.metrics.get("val_accuracy"), "recorded_on": spec.metrics.get("val_data")}


def _finish_from_kept(cfg: Any, kept: Path) -> Any:
    """The model folder from the kept best epoch of a run that was stopped (killed) part-way."""
    import keras

    from . import augmentation_layer, distillation, fused_batchnorm  # noqa: F401  (custom objects, for loading)
    from .backend import accelerator, configure_tensorflow, select_backend, set_precision
    from .loop import RunSummary, _float32_copy, prepare_data, resolve_input_size, save_run

    state = json.loads((kept / "state.json").read_text())
    input_size = resolve_input_size(cfg)
    backend = select_backend()
    if backend == "tensorflow":
        configure_tensorflow(input_size)
    precision = set_precision(cfg.precision)
    train_ds, val_ds = prepare_data(cfg, input_size)
    network = keras.models.load_model(str(kept / "best.keras"), compile=False)
    final = _float32_copy(network, cfg, input_size)
    for layer in final.layers:
        layer.trainable = True
    history = state["history"]
    seconds = sum(r.get("seconds", 0.0) for r in history)
    run = RunSummary(history, state["best_epoch"], state["best_epoch"], seconds, final.count_params(), backend,
                     precision, accelerator() or "CPU", stopped_early=True)
    from ..models import MODELS_DIR

    out_dir = Path(cfg.out) if cfg.out else MODELS_DIR / cfg.resolved_name()
    return save_run(cfg, final, run, input_size, train_ds, val_ds, out_dir)


def _split(cfg: Any, found: Any, how: str, into: Path, emit: _Events) -> Any:
    """The validation faces: at random per emotion (`random`, as `train` does it), or whole groups
    (`subfolder`, `prefix`: `data.face_groups`) written as two class-folder trees that `cfg` then names.
    Either way, says how many validation faces have a near-copy among the training faces."""
    from dataclasses import replace

    from .data import face_groups, near_duplicates, split_by_group, split_validation

    if how == "random":
        train_ds, val_ds = split_validation(found, cfg.val_split, cfg.seed)
    else:
        groups = face_groups(found, how)
        train_ds, val_ds = split_by_group(found, groups, cfg.val_split, cfg.seed)
        for side, ds in (("train", train_ds), ("val", val_ds)):
            for i, (source, label) in enumerate(zip(ds.sources, ds.y)):
                target = into / side / EMOTIONS[int(label)] / f"{i:06d}{Path(source).suffix.lower()}"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
        emit("groups", how=how, n=len(set(groups)), val_groups=len({g for g, s in zip(groups, found.sources)
                                                                      if s in set(val_ds.sources)}))
        cfg = replace(cfg, data=str(into / "train"), val=str(into / "val"))
    emit("duplicates", n=near_duplicates(train_ds.x, val_ds.x), of=min(len(val_ds), 2000), split=how)
    return cfg


def run(folder: str | Path, finish: bool = False) -> int:
    """Train (or, with `finish`, write the model of a stopped run) as `folder/spec.json` says; 0 on success."""
    folder = Path(folder)
    emit = _Events(folder)
    try:
        from . import TrainConfig, train
        from .data import load_dataset

        spec = json.loads((folder / SPEC).read_text())
        cfg = TrainConfig(**spec["config"])
        kept = folder / KEPT
        if finish:
            emit("status", text="Stopped: writing the model of the best finished epoch...")
            result = _finish_from_kept(cfg, kept)
        else:
            emit("status", text="Checking the faces...")
            found = load_dataset(cfg.data)  # the checks, with a clear message, before anything heavy
            emit("faces", counts=found.class_counts())
            cfg = _split(cfg, found, spec.get("split") or "random", folder / "split", emit)
            del found
            emit("status", text="Loading TensorFlow and building the model (a few seconds the first time)...")
            ckpt_dir = Path(cfg.checkpoint_dir)

            def on_epoch(record: dict, history: list[dict]) -> None:
                _keep_epoch(ckpt_dir, kept, history)
                emit("epoch", record=record)

            result = train(cfg, on_epoch_end=on_epoch)
        reference = None
        if spec.get("reference"):
            emit("status", text="Measuring the reference model on the same validation faces...")
            try:
                reference = reference_accuracy(cfg, spec["reference"])
            except Exception as error:  # noqa: BLE001 - the comparison is a bonus; the new model is there
                print(f"reference accuracy of {spec['reference']}: {error!r}", file=sys.stderr)
        emit("done", result={
            "name": result.name, "dir": str(result.model_dir), "history": result.history,
            "best_epoch": result.best_epoch, "metrics": result.metrics, "seconds": result.seconds,
            "stopped": bool(finish), "reference": reference})
        return 0
    except FerError as error:
        emit("error", message=str(error), user_error=True)
        return 2
    except Exception as error:  # noqa: BLE001 - reported to the page as one sentence; the detail goes to the log
        import traceback

        traceback.print_exc()
        emit("error", message=type(error).__name__, user_error=False)
        return 1


def write_spec(folder: str | Path, config: Any, reference: str | None, split: str = "random") -> Path:
    """`folder/spec.json` for `run`. config: a TrainConfig; reference: a model to score on the same validation
    faces; split: how the validation faces are chosen (`random`, or a key of `data.GROUPINGS`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SPEC).write_text(json.dumps({"config": asdict(config), "reference": reference, "split": split},
                                          indent=1))
    return folder


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print("usage: python -m fer_core.training.job JOB_FOLDER [--finish]", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(args[0], finish="--finish" in args[1:]))
