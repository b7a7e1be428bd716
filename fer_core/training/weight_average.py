"""An exponential moving average of a network's weights (`--ema DECAY`), for the Keras engine.

Why: with SGD the weights keep wandering to the end of a run. A ResNet-18 teacher scored 71.16 % on
PublicTest at epoch 111 of 125 and 70.5-70.7 % over its last five epochs (tools/gpu_job/README.md).
Averaging the weights of the last few thousand steps smooths that wander out without picking an epoch on
the test split. The average covers every weight, batch-norm statistics included, as the torch
engine's `torch.optim.swa_utils.AveragedModel(..., use_buffers=True)` does, so both engines keep the same
network. (Keras's own `use_ema` optimizer option averages the trainable weights only, and cannot be
evaluated during training without overwriting them.)

The first update copies the weights (as both libraries do); each later one moves the average a share
`1 - decay` towards them: decay 0.999 averages over about the last 1,000 steps.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np


class WeightAverage:
    """The running average of every weight of `network`, updated after every training batch."""

    def __init__(self, network: Any, decay: float):
        import keras

        if not 0.0 <= decay < 1.0:
            raise ValueError(f"The averaging decay must be in [0, 1), not {decay}.")
        self.network, self.decay, self.updates = network, decay, 0
        # initialised from copies: a variable's own tensor would make the average an alias of the weight
        self.average = [keras.Variable(keras.ops.convert_to_numpy(w), trainable=False, name=f"average_{i}")
                        for i, w in enumerate(network.weights)]

    def update(self) -> None:
        """Move the average towards the network's current weights (a copy at the first update)."""
        share = 1.0 if self.updates == 0 else 1.0 - self.decay
        for average, weight in zip(self.average, self.network.weights):
            average.assign(average + share * (weight.value - average))
        self.updates += 1

    def values(self) -> list[np.ndarray]:
        import keras

        return [keras.ops.convert_to_numpy(a) for a in self.average]

    @contextmanager
    def applied(self) -> Iterator[Any]:
        """The network with the averaged weights inside the block, its own weights restored after it."""
        own = self.network.get_weights()
        self.network.set_weights(self.values())
        try:
            yield self.network
        finally:
            self.network.set_weights(own)

    def save(self, path: Path) -> None:
        """Write the average and its update count (a checkpoint, for `--resume`)."""
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, updates=self.updates, **{f"w{i}": v for i, v in enumerate(self.values())})
        tmp.replace(path)

    def load(self, path: Path) -> None:
        with np.load(path) as saved:
            if len(saved.files) - 1 != len(self.average):
                raise ValueError(f"{path} holds the average of a different network.")
            for i, average in enumerate(self.average):
                average.assign(saved[f"w{i}"])
            self.updates = int(saved["updates"])


def keras_callback(average: WeightAverage) -> Any:
    """A Keras callback that updates `average` after every training batch."""
    import keras

    class UpdateAverage(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            average.update()

    return UpdateAverage()
