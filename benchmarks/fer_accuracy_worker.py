"""The `fer` package's side of compare_accuracy.py; runs in benchmarks/.fer-venv (see setup_fer_venv.sh).

Reads the path of a JSON job (a list of face-crop image paths), prints one JSON object: the class index
`fer` gives each face, for its default classifier (the quantized TFLite file, `FER()`) and for the Keras
original (`FER(use_tflite=False)`). Each crop is prepared exactly as `FER.detect_emotions` prepares a
detected face: grey, `cv2.resize` to the classifier's 64x64 (bilinear), scaled to [-1, 1]; then it goes to
fer's own `_classify_emotions`. The crops are whole faces already, so fer's detector and its box offsets
are left out: this compares the classifiers on the same faces, not the detectors.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

TARGET_SIZE = (64, 64)  # fer's emotion_target_size for both of its classifiers
BATCH = 256


def fer_inputs(paths):
    """Face crops -> fer's classifier input, as in FER.detect_emotions."""
    faces = [cv2.resize(cv2.imread(p, cv2.IMREAD_GRAYSCALE), TARGET_SIZE) for p in paths]
    faces = np.array(faces, dtype="float32") / 255.0
    return (faces - 0.5) * 2.0


def predictions(detector, paths):
    """Class indices (fer's label order) for every face."""
    out = []
    for start in range(0, len(paths), BATCH):
        faces = fer_inputs(paths[start:start + BATCH])
        if not getattr(detector, "use_tflite", True):
            faces = faces[..., None]  # the Keras original wants a channel axis; the TFLite path adds its own
        out.extend(int(i) for i in np.asarray(detector._classify_emotions(faces)).argmax(axis=1))
    return out


def main():
    with open(sys.argv[1]) as f:
        paths = json.load(f)["paths"]
    from importlib.metadata import version

    from fer.fer import FER

    labels = [FER._get_labels()[i] for i in range(7)]
    result = {"package": "fer", "version": version("fer"), "labels": labels, "classifiers": {}}
    for name, kwargs in (("fer default (quantized TFLite)", {}), ("fer Keras original", {"use_tflite": False})):
        detector = FER(mtcnn=False, **kwargs)
        result["classifiers"][name] = {"predictions": predictions(detector, paths)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
