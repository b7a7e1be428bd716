"""Emotion classification on the TFLite interpreter (ai-edge-litert).

The interpreter imports in milliseconds and runs Mini-XCEPTION in about 0.4 ms per face on this kind of
CPU, where Keras costs 2-5 s to import and 25 ms per call. Every face of a frame goes through in one call.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Iterator

import cv2
import numpy as np

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

from .calibration import apply_temperature
from .models import ModelSpec, get_model


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence the interpreter's native "INFO: Created TensorFlow Lite XNNPACK delegate" line.

    It is written by C++ straight to file descriptor 2 when tensors are allocated, ignoring Python's
    logging, and would land in every CLI run and test log.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def invoke(interpreter: "Interpreter", input_detail: dict, batch: np.ndarray, allocated: int) -> int:
    """Fill the interpreter's input with `batch` and run it, resizing first when the batch size changed.

    Returns the batch size now allocated (the caller keeps it, so the next call of the same size skips
    the costly re-allocation). The caller holds the interpreter's lock.
    """
    if batch.shape[0] != allocated:
        interpreter.resize_tensor_input(input_detail["index"], list(batch.shape))
        with _quiet_native_stderr():
            interpreter.allocate_tensors()
    interpreter.set_tensor(input_detail["index"], batch)
    interpreter.invoke()
    return batch.shape[0]


def resize_batch(batch: np.ndarray, size: int) -> np.ndarray:
    """Faces prepared at one size, for a model that takes another (ensembles of 64 and 48 pixel models)."""
    if batch.shape[1] == size:
        return batch
    interpolation = cv2.INTER_AREA if batch.shape[1] > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(face[:, :, 0], (size, size), interpolation=interpolation)[:, :, None] for face in batch])


class EmotionClassifier:
    """Probabilities over the model's classes for a batch of preprocessed faces.

    `tta=True` averages each face with its mirror image (test-time augmentation): one call on a batch twice
    as large, so it roughly doubles the classifier's (small) share of the cost per face. A registry entry with
    `members` is an ensemble: each member classifies the faces (resized to its input) and the probabilities are
    averaged, so its cost is the members' costs added up.
    """

    def __init__(self, model: str | ModelSpec | None = None, tta: bool = False, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.spec = model if isinstance(model, ModelSpec) else get_model(model)
        self.tta = tta
        self._members = [EmotionClassifier(name, num_threads=num_threads) for name in self.spec.members]
        if self._members:
            return
        self._interpreter = Interpreter(model_path=str(self.spec.weights_path), num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = -1
        self._lock = threading.Lock()  # one interpreter, possibly shared by a webcam thread and a page

    @property
    def input_size(self) -> int:
        return self.spec.input_size

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    @property
    def temperature(self) -> float:
        """What divides the log-probabilities (the model's, or its mirror-TTA one when `tta` is on)."""
        return self.spec.temperature_for(self.tta)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self._members:
            return np.mean([m.predict(resize_batch(batch, m.input_size), calibrated=False)
                            for m in self._members], axis=0)
        with self._lock:
            self._batch = invoke(self._interpreter, self._input, batch, self._batch)
            return self._interpreter.get_tensor(self._output["index"]).copy()

    def predict(self, batch: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """(N, S, S, 1) float32 in [-1, 1] -> (N, classes) probabilities.

        Calibrated by the model's temperature unless `calibrated=False`, which gives the network's own outputs
        (an ensemble's: the mean of its members' own outputs): what the explorer shows as "before".
        """
        if batch.shape[0] == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if not self.tta:
            probabilities = self._run(batch)
        else:
            both = self._run(np.concatenate([batch, batch[:, :, ::-1, :]], axis=0))
            n = batch.shape[0]
            probabilities = (both[:n] + both[n:]) / 2.0
        return apply_temperature(probabilities, self.temperature) if calibrated else probabilities


def measure_ms_per_face(model: str | ModelSpec | None = None, repeats: int = 300) -> float:
    """The classifier's cost of one face: batch 1, one thread, mean of `repeats` calls, median of 3 runs.

    This is the figure every model list shows beside accuracy; an ensemble's is its members' together.
    """
    clf = EmotionClassifier(model, num_threads=1)
    x = np.random.default_rng(0).uniform(-1, 1, (1, clf.input_size, clf.input_size, 1)).astype(np.float32)
    for _ in range(30):
        clf.predict(x)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            clf.predict(x)
        runs.append((time.perf_counter() - start) / repeats * 1000)
    return round(float(np.median(runs)), 3)
