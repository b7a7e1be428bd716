"""Batch normalisation that trains as one fused kernel on the torch backend.

Keras's BatchNormalization is written with generic ops: on torch a training step launches about 50 kernels
per layer (moments, casts, the moving-average updates, the normalisation and all their gradients) against 7
for `torch.nn.functional.batch_norm` (counted with the torch profiler). ResNet-18 has 20 such layers, which
made it GPU-bound at about 60 ms per step at batch 256 on an H200 (tools/gpu_job/README.md). This subclass
hands the training step to `F.batch_norm` on torch and leaves everything else (other backends, inference,
masks, renorm) to Keras. Its variables are Keras's own, in the same order, so a network trained with it is
rebuilt with the plain layer for saving and conversion (`loop._float32_copy`) and copies its weights over.

Importing this module imports Keras: only the training loop does, after choosing the backend.
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="fer_core")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` with a fused training step on the torch backend."""

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        fused = (keras.backend.backend() == "torch" and training and self.trainable and mask is None
                 and not self.renorm and len(inputs.shape) == 4 and self.axis in (3, -1))
        if not fused:
            return super().call(inputs, training=training, mask=mask)
        import torch.nn.functional as F

        # NHWC -> NCHW as a view (channels-last memory, which cuDNN normalises in place of a copy).
        out = F.batch_norm(inputs.permute(0, 3, 1, 2), self.moving_mean.value, self.moving_variance.value,
                           weight=self.gamma.value if self.scale else None,
                           bias=self.beta.value if self.center else None,
                           training=True, momentum=1.0 - self.momentum, eps=self.epsilon)
        return out.permute(0, 2, 3, 1)
