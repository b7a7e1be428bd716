"""The model's own penultimate features, for the explorer's embedding map.

The map must be of the model being explored, so the features are read from its own TFLite file: the file
is read with the TFLite schema that ships in ai-edge-litert, the last four-dimensional feature map before
the classifier (more channels than the model has classes) is added to the graph's outputs, and the
interpreter runs the patched copy from memory. Each call then gives that map beside the probabilities, at the
cost of the plain model (the interpreter's `experimental_preserve_all_tensors` gives the same numbers but
runs op by op: seven times slower on the ResNet-18s). The map is averaged over space: for the ResNets that is
exactly their global-average-pool tensor (256 or 512 values); for Mini-XCEPTION, whose head is a 7-channel
convolution averaged into the logits, it is the 128 or 256 channels feeding that convolution. An ensemble's
features are its members' side by side.
"""

from __future__ import annotations

import threading

import numpy as np

from ..classifier import invoke, resize_batch
from ..errors import FerError
from ..models import ModelSpec, get_model


def with_feature_output(model_bytes: bytes, classes: int) -> tuple[bytes, str]:
    """A TFLite model's bytes with its penultimate feature map added as a second output, and that tensor's name.

    The feature map is the last 4-D operator output, in execution order, with more channels than `classes`.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    graph = model.subgraphs[0]
    produced = [int(i) for op in graph.operators for i in op.outputs]
    maps = [i for i in produced if graph.tensors[i].shape is not None and len(graph.tensors[i].shape) == 4
            and graph.tensors[i].shape[-1] > classes]
    if not maps:
        raise FerError("The model has no feature map before its classifier to read features from.")
    graph.outputs = np.append(np.asarray(graph.outputs, dtype=np.int32), np.int32(maps[-1]))
    builder = flatbuffers.Builder(len(model_bytes) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    name = graph.tensors[maps[-1]].name
    return bytes(builder.Output()), name.decode() if isinstance(name, bytes) else str(name)


class FeatureExtractor:
    """(N, S, S, 1) model inputs -> (N, D) penultimate features of `model` (an ensemble: members concatenated)."""

    def __init__(self, model: str | ModelSpec | None = None, num_threads: int = 1) -> None:
        self.spec = model if isinstance(model, ModelSpec) else get_model(model)
        self._members = [FeatureExtractor(name, num_threads=num_threads) for name in self.spec.members]
        if self._members:
            return
        from ai_edge_litert.interpreter import Interpreter

        content, self.tensor_name = with_feature_output(self.spec.weights_path.read_bytes(), len(self.spec.classes))
        self._interpreter = Interpreter(model_content=content, num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]
        outputs = self._interpreter.get_output_details()
        self._output = next(o for o in outputs if o["name"] == self.tensor_name)
        self._probabilities = next(o for o in outputs if o["name"] != self.tensor_name)
        self._batch = -1
        self._lock = threading.Lock()

    @property
    def dimensions(self) -> int:
        if self._members:
            return sum(m.dimensions for m in self._members)
        return int(self._output["shape"][-1])

    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            self._batch = invoke(self._interpreter, self._input, batch, self._batch)
            return (self._interpreter.get_tensor(self._output["index"]).mean(axis=(1, 2)),
                    self._interpreter.get_tensor(self._probabilities["index"]).copy())

    def features(self, batch: np.ndarray) -> np.ndarray:
        """(N, S, S, 1) float32 in [-1, 1] (at the model's input size) -> (N, D) float32."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self._members:
            return np.concatenate([m.features(resize_batch(batch, m.spec.input_size)) for m in self._members],
                                  axis=1)
        if len(batch) == 0:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self._run(batch)[0].astype(np.float32)

    def features_and_outputs(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A single network's features and its raw probabilities from one call: the same network on the same
        input as `EmotionClassifier.predict(batch, calibrated=False)` without mirror TTA, so the same numbers
        (the tests check it), at the cost of one pass instead of two."""
        if self._members:
            raise ValueError("an ensemble's outputs come from EmotionClassifier; ask it for features only")
        features, outputs = self._run(np.ascontiguousarray(batch, dtype=np.float32))
        return features.astype(np.float32), outputs
