"""From trained Keras weights to a registry folder the TFLite runtime reads, with its card.

TensorFlow is needed only here (the TFLite converter) and for training on the CPU; the app and the CLI run on
the TFLite interpreter (`ai-edge-litert`), which starts in milliseconds. A model trained on the GPU machine
(Keras on torch, no TensorFlow there) comes back as `model.keras` or, when it is too large to carry,
`weights.f16.npz` (its weights in float16, rebuilt here from the architecture named in `training.json`);
`publish` then converts it on this machine, evaluates the TFLite file and writes `model.json` and the card.

    python -m fer_core.convert models/mini_xception_fer2013/emotion_model.hdf5 \\
        --name mini_xception_fer2013 --title "Mini-XCEPTION (pre-trained)"
    python -m fer_core.convert --publish models/resnet18_fer2013 --val data/PublicTest --int8 --no-keras

`--int8` (dynamic-range quantization: int8 weights, float activations) is what the shipped ResNets use: on
FER2013 PublicTest it changed no answer's accuracy (ResNet-18 70.52% -> 70.58%, ResNet-m 68.65% -> 68.65%),
made the files 4x smaller and ran 3-4x faster on this CPU (ResNet-18 11.0 -> 2.9 ms per face, ResNet-m
0.36 -> 0.11 ms), because XNNPack then runs int8 kernels. `--float16` halves the file and computes in float32.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..emotions import EMOTIONS
from ..errors import FerError
from ..models import ModelSpec, get_model
from .config import TrainingError
from .reports import LOG_FILE, RECORD_FILE, TrainingRecord, accuracy_report, to_model_input, write_card, write_log

F16_WEIGHTS = "weights.f16.npz"


QUANTIZATIONS = ("float16", "int8")


def keras_to_tflite(keras_model: Any, quantize: str | None = None) -> bytes:
    """TFLite flatbuffer with a dynamic batch dimension (one interpreter call per frame).

    `quantize`: None keeps float32 weights; "float16" stores them in half precision (the interpreter computes
    in float32); "int8" is dynamic-range quantization (int8 weights, activations quantized on the fly).
    """
    import tensorflow as tf

    if quantize not in (None, *QUANTIZATIONS):
        raise ValueError(f"Unknown quantization '{quantize}'; choose one of {', '.join(QUANTIZATIONS)}.")
    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def load_keras(path: Path) -> Any:
    import keras

    return keras.models.load_model(str(path), compile=False)


def load_registry_keras(name: str, purpose: str) -> tuple[ModelSpec, Any]:
    """A registry model's spec and Keras network (fine-tuning, online teaching); one sentence naming `purpose`
    ("fine-tune from", "teach with") when the model ships no Keras weights."""
    spec = get_model(name)
    if not spec.keras_path or not spec.keras_path.exists():
        raise TrainingError(f"Model '{spec.name}' has no Keras weights to {purpose}.")
    return spec, load_keras(spec.keras_path)


def finetune_input_size(ref: str) -> int:
    """The face size of the network `--finetune` names, read without importing Keras: a trained model folder's
    training.json (or model.json), else the registry's."""
    folder = Path(ref)
    if not folder.is_dir():
        return get_model(ref).input_size
    for record in (RECORD_FILE, "model.json"):
        if (folder / record).exists():
            return int(json.loads((folder / record).read_text(encoding="utf-8"))["input_size"])
    raise TrainingError(f"{folder} is not a trained model folder (it has neither {RECORD_FILE} nor model.json).")


def load_network(ref: str, purpose: str) -> Any:
    """The Keras network `ref` names, to `purpose` ("fine-tune from", "teach with"): a trained model folder
    (model.keras, or weights.f16.npz with training.json, as the GPU job returns its teachers, whose shipped
    folders keep TFLite only) or a registry model with Keras weights."""
    if Path(ref).is_dir():
        return load_trained(Path(ref))
    return load_registry_keras(ref, purpose)[1]


def save_f16_weights(model: Any, path: Path) -> Path:
    """The weights alone, in float16: half the bytes of a .keras file, for carrying a large model home."""
    np.savez(path, *[np.asarray(w, np.float32).astype(np.float16) for w in model.get_weights()])
    return path


def load_trained(folder: Path) -> Any:
    """The trained Keras model in `folder`: model.keras, or weights.f16.npz rebuilt from training.json."""
    folder = Path(folder)
    if (folder / "model.keras").exists():
        return load_keras(folder / "model.keras")
    if (folder / F16_WEIGHTS).exists():
        from .architectures import build

        record = TrainingRecord.load(folder)
        model = build(record.config["arch"], record.input_size, len(EMOTIONS), dropout=record.config.get("dropout"))
        with np.load(folder / F16_WEIGHTS) as data:
            model.set_weights([data[f"arr_{i}"].astype(np.float32) for i in range(len(data.files))])
        return model
    raise FerError(f"{folder} holds no trained weights (model.keras or {F16_WEIGHTS}).")


def write_model_folder(keras_model: Any, out_dir: Path, name: str, title: str, face_margin: float = 0.1,
                       description: str = "", metrics: dict[str, Any] | None = None,
                       keras_filename: str | None = "model.keras", quantize: str | None = None) -> Path:
    """Write `model.tflite`, optionally the Keras weights, and `model.json` into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.tflite").write_bytes(keras_to_tflite(keras_model, quantize))
    if keras_filename and not (out_dir / keras_filename).exists():
        keras_model.save(str(out_dir / keras_filename))
    spec = {
        "name": name,
        "title": title,
        "weights": "model.tflite",
        "keras_weights": keras_filename,
        "input_size": int(keras_model.input_shape[1]),
        "classes": list(EMOTIONS),
        "face_margin": face_margin,
        "description": description,
        "metrics": metrics or {},
    }
    spec_path = out_dir / "model.json"
    if spec_path.exists():  # keep hand-written fields (metrics, description) of an existing card
        old = json.loads(spec_path.read_text(encoding="utf-8"))
        for key in ("description", "metrics"):
            if old.get(key) and not spec[key]:
                spec[key] = old[key]
    spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return out_dir


def evaluate_tflite(folder: Path, val: str | Path) -> dict[str, Any]:
    """Accuracy of the folder's TFLite model on `val` (class folders or FER2013 CSV), with and without TTA."""
    from ..classifier import EmotionClassifier
    from ..models import load_spec
    from .data import load_dataset

    spec = load_spec(folder)
    ds = load_dataset(val, size=spec.input_size, min_classes=1,
                      usage="PublicTest" if str(val).lower().endswith(".csv") else None)
    x = to_model_input(ds.x)
    result = {}
    for key, tta in (("val", False), ("val_tta", True)):
        clf = EmotionClassifier(spec, tta=tta)
        probs = np.concatenate([clf.predict(x[i:i + 256]) for i in range(0, len(x), 256)])
        result[key] = accuracy_report(ds.y, probs)
    return result


def publish(folder: Path, val: str | Path | None = None, quantize: str | None = None, keep_keras: bool = True,
            notes: str = "", model: Any = None, name: str | None = None, title: str | None = None) -> dict[str, Any]:
    """Convert the trained model in `folder`, evaluate the TFLite file, write model.json and the card.

    `val` defaults to the validation data recorded in training.json. `name` and `title` rename the model: a
    run trained as `resnet18_fer2013` on the GPU machine may ship beside an earlier model of that name, and two
    registry folders must not answer to one name. Returns the metrics written.
    """
    from ..classifier import measure_ms_per_face
    from ..models import load_spec

    folder = Path(folder)
    record = TrainingRecord.load(folder)
    if name or title:
        record.name, record.title = name or record.name, title or record.title
        record.save(folder)
    model = model if model is not None else load_trained(folder)
    val = val or record.config.get("val")
    keras_file = "model.keras" if keep_keras else None
    if not keep_keras:
        (folder / "model.keras").unlink(missing_ok=True)
    write_model_folder(model, folder, record.name, record.title, face_margin=record.config["face_margin"],
                       keras_filename=keras_file, quantize=quantize)
    (folder / F16_WEIGHTS).unlink(missing_ok=True)
    evaluation = record.metrics | (evaluate_tflite(folder, val) if val else {})
    evaluation["ms_per_face"] = measure_ms_per_face(load_spec(folder))
    evaluation["tflite_weights"] = quantize or "float32"
    metrics = {
        "input_size": record.input_size, "params": record.params, "best_epoch": record.best_epoch,
        "kept_epoch": record.kept_epoch, "epochs_run": len(record.history),
        "val_data": str(val) if val else f"{record.config['val_split']:.0%} split of {record.config['data']}",
        "train_minutes": round(record.seconds / 60, 1), "hardware": record.hardware,
        "ms_per_face": evaluation["ms_per_face"], "tflite_weights": evaluation["tflite_weights"],
        "val_accuracy": evaluation["val"]["accuracy"], "val_per_class": evaluation["val"]["per_class"],
    }
    if "val_tta" in evaluation:
        metrics |= {"val_accuracy_tta": evaluation["val_tta"]["accuracy"],
                    "val_per_class_tta": evaluation["val_tta"]["per_class"]}
    spec_path = folder / "model.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec["metrics"] = metrics
    spec["description"] = (f"{record.config['arch']}, {record.params / 1e6:.2f}M parameters; "
                           f"{metrics['val_accuracy']:.1%} on {Path(metrics['val_data']).name}, "
                           f"{metrics['ms_per_face']} ms per face.")
    spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    write_log(record.history, folder / LOG_FILE)
    write_card(folder, record, evaluation, notes=notes)
    return metrics | {key: evaluation[key] for key in ("val", "val_tta") if key in evaluation}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_core.convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keras_file", type=Path, nargs="?", help="a .hdf5/.h5/.keras model to convert as it is")
    parser.add_argument("--publish", type=Path, metavar="FOLDER",
                        help=f"a folder written by training ({RECORD_FILE} + weights): convert, evaluate, write the card")
    parser.add_argument("--shrink", type=Path, metavar="FOLDER",
                        help=f"replace the folder's model.keras by {F16_WEIGHTS} (half the bytes; needs no TensorFlow)")
    parser.add_argument("--val", help="validation data for --publish (default: the one used in training)")
    parser.add_argument("--name", help="registry name (with --publish: renames the trained model)")
    parser.add_argument("--title", help="title on the card and in model lists (with --publish: replaces the trained one)")
    parser.add_argument("--out", type=Path, help="model folder (default: the Keras file's folder)")
    parser.add_argument("--face-margin", type=float, default=0.1)
    q = parser.add_mutually_exclusive_group()
    q.add_argument("--float16", dest="quantize", action="store_const", const="float16",
                   help="store the TFLite weights in float16 (half the size)")
    q.add_argument("--int8", dest="quantize", action="store_const", const="int8",
                   help="dynamic-range int8 weights (a quarter of the size, faster on a CPU)")
    parser.add_argument("--no-keras", action="store_true", help="--publish: do not keep model.keras in the folder")
    parser.add_argument("--notes", type=Path, help="--publish: a Markdown file appended to the card")
    args = parser.parse_args(argv)
    try:
        if args.shrink:
            path = save_f16_weights(load_keras(args.shrink / "model.keras"), args.shrink / F16_WEIGHTS)
            (args.shrink / "model.keras").unlink()
            print(f"wrote {path}")
            return 0
        if args.publish:
            notes = args.notes.read_text(encoding="utf-8") if args.notes else ""
            metrics = publish(args.publish, args.val, quantize=args.quantize, keep_keras=not args.no_keras, notes=notes,
                              name=args.name, title=args.title)
            print(f"{args.publish}: {metrics['val_accuracy']:.2%} on {metrics['val_data']} "
                  f"({metrics.get('val_accuracy_tta', float('nan')):.2%} with mirror TTA), "
                  f"{metrics['ms_per_face']} ms per face")
            return 0
        if not args.keras_file or not args.name or not args.title:
            parser.error("give a Keras file with --name and --title, --publish FOLDER or --shrink FOLDER")
        model = load_keras(args.keras_file)
        out = args.out or args.keras_file.parent
        write_model_folder(model, out, args.name, args.title, face_margin=args.face_margin, quantize=args.quantize,
                           keras_filename=args.keras_file.name if args.keras_file.parent == out else "model.keras")
    except FerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out / 'model.tflite'} and {out / 'model.json'}")
    return 0
