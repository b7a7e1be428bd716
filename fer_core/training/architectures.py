"""Network builders, by name: Mini-XCEPTION (Arriaga et al., 2017) and ResNets sized for 48x48 faces.

Every model takes (size, size, 1) grayscale faces scaled to [-1, 1] (`preprocess.scale_pixels`, as the
pre-trained model) and outputs softmax probabilities over the seven EMOTIONS. The softmax runs in float32
whatever the training precision, so probabilities (and the distillation loss built on them) stay exact.

- `mini_xception`: the published network (8-filter stem, separable modules of 16/32/64/128, ~58k
  parameters). `mini_xception_wide`: the same design with wider low-resolution modules (48/128/256,
  192k parameters) and dropout; 0.39 ms per face here.
- `resnet18`: the ResNet-18 of He et al. adapted to 48x48 as is usual for small images: a 3x3 stem at full
  resolution and no max-pool, four stages of two basic blocks (64/128/256/512), 11.2M parameters. The
  `accurate` model; about 72% on FER2013 PublicTest when trained with the `accurate` recipe.
- `resnet_m`: one basic block per stage (32/64/128/256), 1.23M parameters, the first stage strided so that
  the stem alone sees 48x48: about 4x fewer operations than at full resolution, for the CPU budget of the
  `fast` default (< 1 ms per face with TFLite on one thread).
- `resnet_s`: like `resnet_m` at half the width (16/32/64/128), 0.31M parameters.
"""

from __future__ import annotations

from typing import Any, Callable


def _keras():
    import keras

    return keras, keras.layers


def _batch_norm(fused: bool) -> Any:
    """The batch-norm layer class: the fused one for training on torch (see fused_batchnorm.py)."""
    if fused:
        from .fused_batchnorm import FusedBatchNormalization

        return FusedBatchNormalization
    import keras

    return keras.layers.BatchNormalization


def mini_xception(input_size: int = 64, num_classes: int = 7, stem: int = 8,
                  widths: tuple[int, ...] = (16, 32, 64, 128), l2: float = 0.01, dropout: float = 0.0,
                  stem_padding: str = "valid", name: str = "mini_xception", fused_batchnorm: bool = False) -> Any:
    keras, L = _keras()
    BatchNorm = _batch_norm(fused_batchnorm)
    reg = keras.regularizers.l2(l2) if l2 else None
    inp = keras.Input((input_size, input_size, 1), name="face")
    x = inp
    for _ in range(2):
        x = L.Conv2D(stem, 3, padding=stem_padding, kernel_regularizer=reg, use_bias=False)(x)
        x = BatchNorm()(x)
        x = L.Activation("relu")(x)
    for width in widths:
        residual = L.Conv2D(width, 1, strides=2, padding="same", use_bias=False)(x)
        residual = BatchNorm()(residual)
        x = L.SeparableConv2D(width, 3, padding="same", depthwise_regularizer=reg, pointwise_regularizer=reg,
                              use_bias=False)(x)
        x = BatchNorm()(x)
        x = L.Activation("relu")(x)
        x = L.SeparableConv2D(width, 3, padding="same", depthwise_regularizer=reg, pointwise_regularizer=reg,
                              use_bias=False)(x)
        x = BatchNorm()(x)
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        x = L.Add()([x, residual])
    if dropout:
        x = L.Dropout(dropout)(x)
    x = L.Conv2D(num_classes, 3, padding="same")(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Activation("softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inp, out, name=name)


def mini_xception_wide(input_size: int = 48, num_classes: int = 7, dropout: float = 0.3,
                       fused_batchnorm: bool = False) -> Any:
    return mini_xception(input_size, num_classes, stem=8, widths=(16, 48, 128, 256), l2=0.0, dropout=dropout,
                         name="mini_xception_wide", fused_batchnorm=fused_batchnorm)


def resnet(input_size: int = 48, num_classes: int = 7, widths: tuple[int, ...] = (64, 128, 256, 512),
           blocks: tuple[int, ...] = (2, 2, 2, 2), first_stride: int = 1, dropout: float = 0.0,
           name: str = "resnet", fused_batchnorm: bool = False) -> Any:
    """A ResNet of basic blocks with a 3x3 stem and no max-pool (small inputs keep their resolution).

    `first_stride` is the stride of the first stage (later stages always halve the resolution).
    BatchNorm momentum 0.9 (PyTorch's 0.1), so short runs end with usable moving statistics.
    """
    keras, L = _keras()
    BatchNorm = _batch_norm(fused_batchnorm)

    def bn(x):
        return BatchNorm(momentum=0.9, epsilon=1e-5)(x)

    def basic_block(x, width: int, stride: int):
        shortcut = x
        y = L.Conv2D(width, 3, strides=stride, padding="same", use_bias=False)(x)
        y = L.ReLU()(bn(y))
        y = bn(L.Conv2D(width, 3, padding="same", use_bias=False)(y))
        if stride != 1 or shortcut.shape[-1] != width:
            shortcut = bn(L.Conv2D(width, 1, strides=stride, use_bias=False)(shortcut))
        return L.ReLU()(L.Add()([y, shortcut]))

    inp = keras.Input((input_size, input_size, 1), name="face")
    x = L.ReLU()(bn(L.Conv2D(widths[0], 3, padding="same", use_bias=False)(inp)))
    for stage, (width, n) in enumerate(zip(widths, blocks)):
        for i in range(n):
            stride = (first_stride if stage == 0 else 2) if i == 0 else 1
            x = basic_block(x, width, stride)
    x = L.GlobalAveragePooling2D()(x)
    if dropout:
        x = L.Dropout(dropout)(x)
    x = L.Dense(num_classes)(x)
    out = L.Activation("softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inp, out, name=name)


Builder = Callable[..., Any]  # (input_size, num_classes, dropout=..., fused_batchnorm=...) -> keras.Model

ARCHITECTURES: dict[str, Builder] = {
    "mini_xception": lambda size, n, dropout=0.0, **kw: mini_xception(size, n, dropout=dropout, **kw),
    "mini_xception_wide": lambda size, n, dropout=0.3, **kw: mini_xception_wide(size, n, dropout=dropout, **kw),
    "resnet18": lambda size, n, dropout=0.0, **kw: resnet(size, n, (64, 128, 256, 512), (2, 2, 2, 2), first_stride=1,
                                                          dropout=dropout, name="resnet18", **kw),
    "resnet_m": lambda size, n, dropout=0.0, **kw: resnet(size, n, (32, 64, 128, 256), (1, 1, 1, 1), first_stride=2,
                                                          dropout=dropout, name="resnet_m", **kw),
    "resnet_s": lambda size, n, dropout=0.0, **kw: resnet(size, n, (16, 32, 64, 128), (1, 1, 1, 1), first_stride=2,
                                                          dropout=dropout, name="resnet_s", **kw),
}
DEFAULT_INPUT_SIZE = 48  # FER2013's own resolution: no upscaling


def build(arch: str, input_size: int, num_classes: int = 7, dropout: float | None = None,
          fused_batchnorm: bool = False) -> Any:
    """Build architecture `arch` (see ARCHITECTURES) for `input_size` x `input_size` faces.

    `fused_batchnorm` is for training on the torch backend; models are saved with the plain layer.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture '{arch}'; choose one of {', '.join(ARCHITECTURES)}.")
    kwargs: dict[str, Any] = {"fused_batchnorm": fused_batchnorm}
    if dropout is not None:
        kwargs["dropout"] = dropout
    return ARCHITECTURES[arch](input_size, num_classes, **kwargs)
