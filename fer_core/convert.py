"""Convert a Keras emotion model into a registry folder the fast runtime reads.

TensorFlow is imported only here and in training: the app and the CLI run on the TFLite interpreter
(`ai-edge-litert`), which starts in milliseconds instead of seconds.

    python -m fer_core.convert models/mini_xception_fer2013/emotion_model.hdf5 \
        --name mini_xception_fer2013 --title "Mini-XCEPTION (pre-trained)"
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def keras_to_tflite(keras_model: Any) -> bytes:
    """Float32 TFLite flatbuffer with a dynamic batch dimension (one interpreter call per frame)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    return converter.convert()


def load_keras(path: Path) -> Any:
    import keras

    return keras.models.load_model(str(path), compile=False)


def write_model_folder(
    keras_model: Any,
    out_dir: Path,
    name: str,
    title: str,
    face_margin: float = 0.1,
    description: str = "",
    metrics: dict[str, Any] | None = None,
    keras_filename: str | None = "model.keras",
) -> Path:
    """Write `model.tflite`, optionally the Keras weights, and `model.json` into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.tflite").write_bytes(keras_to_tflite(keras_model))
    if keras_filename and not (out_dir / keras_filename).exists():
        keras_model.save(str(out_dir / keras_filename))
    input_size = int(keras_model.input_shape[1])
    spec = {
        "name": name,
        "title": title,
        "weights": "model.tflite",
        "keras_weights": keras_filename,
        "input_size": input_size,
        "classes": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keras_file", type=Path, help="a .hdf5/.h5/.keras model")
    parser.add_argument("--name", required=True)
    parser.add_argument("--title", required=True)
    parser.add_argument("--out", type=Path, help="model folder (default: the Keras file's folder)")
    parser.add_argument("--face-margin", type=float, default=0.1)
    args = parser.parse_args(argv)
    model = load_keras(args.keras_file)
    out = args.out or args.keras_file.parent
    write_model_folder(
        model, out, args.name, args.title, face_margin=args.face_margin,
        keras_filename=args.keras_file.name if args.keras_file.parent == out else "model.keras",
    )
    print(f"wrote {out / 'model.tflite'} and {out / 'model.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
