"""Knowledge distillation: a small student learns from a large teacher's probabilities as well as the labels.

The teacher's probabilities on the training set are computed once (`export_soft_targets`, on the machine
that has the teacher) and stored next to the models; training a student then needs no teacher at all, which
is what lets the student be trained on a CPU. Targets are stored by face file name, so they follow the faces
whatever order a folder is read in.

Training targets are one (N, 14) array: the label distribution (one-hot, or blended with FER+ votes) in the
first seven columns, the teacher's probabilities in the last seven (all zero where there is no teacher, as
for validation faces). `DistillationLoss` is then an ordinary Keras loss:

    loss = (1 - w) * CE(labels smoothed, p) + w * T^2 * KL(softmax(log q / T) || softmax(log p / T))

with w = `weight` where a teacher row exists and 0 elsewhere. The models output probabilities (the runtime
wants them), and softmax(log p / T) equals softmax(logits / T), so tempering needs no logits.

Stored probabilities are the teacher's answers on the plain faces, while the student sees them warped,
jittered, erased or mixed. An online teacher (`--teacher-model`, `online_teacher`) answers on exactly the
faces the student sees ("consistent teaching", Beyer et al. 2022), at the price of running the teacher on every
batch, which a GPU can afford. The training model then outputs 14 columns, the student's probabilities and
the teacher's, and the loss takes the teacher from there; the targets' teacher columns hold
`data.ONLINE_TEACHER_MARK` (a uniform row, so that w applies) for training faces and zeros for validation faces.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import keras
from keras import ops

from ..emotions import EMOTIONS
from ..errors import DatasetError
from .config import TrainingError
from .data import FaceDataset, load_dataset, load_soft_targets, save_soft_targets

NUM_CLASSES = len(EMOTIONS)
EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="fer_core")
class DistillationLoss(keras.losses.Loss):
    """Cross-entropy on the labels blended with a tempered KL divergence to the teacher (see the module)."""

    def __init__(self, weight: float = 0.7, temperature: float = 2.0, label_smoothing: float = 0.0,
                 name: str = "distillation", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.weight, self.temperature, self.label_smoothing = weight, temperature, label_smoothing

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.cast(y_pred, "float32")
        labels, teacher = y_true[:, :NUM_CLASSES], y_true[:, NUM_CLASSES:]
        present = teacher
        if y_pred.shape[-1] == 2 * NUM_CLASSES:  # an online teacher's answers follow the student's
            y_pred, teacher = y_pred[:, :NUM_CLASSES], ops.stop_gradient(y_pred[:, NUM_CLASSES:])
        if self.label_smoothing:
            labels = labels * (1.0 - self.label_smoothing) + self.label_smoothing / NUM_CLASSES
        ce = -ops.sum(labels * ops.log(ops.clip(y_pred, EPSILON, 1.0)), axis=-1)
        if not self.weight:
            return ce
        t = self.temperature
        log_q = _tempered_log(teacher, t)
        kl = ops.sum(ops.exp(log_q) * (log_q - _tempered_log(y_pred, t)), axis=-1) * (t * t)
        w = self.weight * ops.cast(ops.sum(present, axis=-1) > 0.5, "float32")  # 0 on rows without a teacher
        return (1.0 - w) * ce + w * kl

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"weight": self.weight, "temperature": self.temperature,
                                       "label_smoothing": self.label_smoothing}


def _tempered_log(probs: Any, temperature: float) -> Any:
    """log softmax(log p / T), computed from probabilities."""
    return ops.log_softmax(ops.log(ops.clip(probs, EPSILON, 1.0)) / temperature, axis=-1)


@keras.saving.register_keras_serializable(package="fer_core")
def label_accuracy(y_true: Any, y_pred: Any) -> Any:
    """Accuracy against the labels (the first seven target columns), whatever the teacher says."""
    return ops.cast(ops.argmax(y_true[:, :NUM_CLASSES], axis=-1) == ops.argmax(y_pred[:, :NUM_CLASSES], axis=-1),
                    "float32")


def accuracy_metric() -> Any:
    """A metric named "accuracy" over the label columns, so logs read accuracy and val_accuracy."""
    return keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")


# ------------------------------------------------------------------------------------ online teachers
def load_teacher_network(ref: str) -> Any:
    """A teacher network for online distillation: a Keras file, a trained model folder (model.keras or
    weights.f16.npz with training.json, as the GPU job leaves them) or a registry model with Keras weights."""
    from ..errors import FerError
    from .conversion import load_keras, load_network

    path = Path(ref)
    if not path.is_dir() and path.suffix.lower() in (".keras", ".h5", ".hdf5"):
        if not path.exists():
            raise TrainingError(f"The teacher model {path} does not exist.")
        return load_keras(path)
    try:
        return load_network(ref, "teach with")
    except FerError as error:
        if path.is_dir() or isinstance(error, TrainingError):
            raise
        raise TrainingError(f"The teacher '{ref}' is neither a Keras file, a model folder nor a registry model.") from None


def online_teacher(refs: Sequence[str], input_size: int) -> Any:
    """The frozen teachers as one Keras model: faces -> their averaged probabilities (float32).

    Frozen layers run in inference mode (batch norm with its moving statistics), so the teacher answers as it
    would at test time.
    """
    nets = [load_teacher_network(ref) for ref in refs]
    for ref, net in zip(refs, nets):
        if int(net.input_shape[1]) != input_size or net.output_shape[-1] != NUM_CLASSES:
            raise TrainingError(f"The teacher {ref} takes {net.input_shape[1]}px faces to {net.output_shape[-1]} "
                                 f"classes; the student takes {input_size}px faces to {NUM_CLASSES}.")
        net.trainable = False
    if len(nets) > 1:
        for i, net in enumerate(nets):  # two teachers of one architecture would share a layer name
            net.name = f"teacher{i + 1}_{net.name}"
    faces = keras.Input((input_size, input_size, 1), name="teacher_face")
    outs = [ops.cast(net(faces, training=False), "float32") for net in nets]
    probs = outs[0] if len(outs) == 1 else keras.layers.Average(dtype="float32")(outs)
    return keras.Model(faces, probs, name="teacher")


# ------------------------------------------------------------------------------------ teacher outputs
def teacher_probabilities(teacher: str, ds: FaceDataset, tta: bool = True) -> tuple[np.ndarray, list[str]]:
    """One teacher's probabilities on the training faces `ds`, and the teachers it stands for.

    `teacher` is a Keras file (.keras/.h5/.hdf5; how the GPU machine, which has no TFLite, runs them), a
    stored targets file (.npz, counted as the teachers it averages) or a registry model name (TFLite runtime).
    """
    suffix = Path(teacher).suffix.lower()
    if suffix == ".npz":
        with np.load(teacher) as stored:
            names = [str(t) for t in stored["teachers"]]
        return load_soft_targets(teacher, ds), names
    if suffix in (".keras", ".h5", ".hdf5"):
        from .reports import predict

        model = keras.models.load_model(str(teacher), compile=False)
        return predict(model, ds.resized(int(model.input_shape[1])).x, tta=tta), [Path(teacher).stem]
    from ..classifier import EmotionClassifier
    from .reports import to_model_input

    clf = EmotionClassifier(teacher, tta=tta)
    x = to_model_input(ds.resized(clf.input_size).x)
    return np.concatenate([clf.predict(x[i:i + 256]) for i in range(0, len(x), 256)]), [clf.spec.name]


def export_soft_targets(teachers: Sequence[str | Path], data: str | Path, out: str | Path, tta: bool = True) -> Path:
    """Average the probabilities of one or more teachers (each with mirror TTA) over a training folder.

    The folder is read once; each teacher gets the faces resized to its own input.
    """
    ds = load_dataset(data)
    total = np.zeros((len(ds), NUM_CLASSES), np.float32)
    names: list[str] = []
    for teacher in teachers:
        probs, members = teacher_probabilities(str(teacher), ds, tta)
        total += probs * len(members)
        names += members
        print(f"{teacher}: training accuracy {(probs.argmax(1) == ds.y).mean():.4f}", flush=True)
    total /= len(names)
    print(f"average of {len(names)} teachers: training accuracy {(total.argmax(1) == ds.y).mean():.4f}", flush=True)
    return save_soft_targets(out, ds.sources, total, names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_core.training.distillation",
                                     description="Store teacher probabilities on a training set for distillation.")
    parser.add_argument("teachers", nargs="+",
                        help="registry model names, Keras files or stored targets (.npz); several are averaged")
    parser.add_argument("--data", required=True, help="the training folder of class folders (or FER2013 CSV)")
    parser.add_argument("--out", required=True, help="the .npz to write")
    parser.add_argument("--no-tta", action="store_true", help="do not average with the mirror image")
    args = parser.parse_args(argv)
    try:
        path = export_soft_targets(args.teachers, args.data, args.out, tta=not args.no_tta)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
