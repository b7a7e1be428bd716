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
- `vgg`: the VGG-style network that leads FER2013's single-network results (Khaireddin & Chen 2021, 73.3 %
  with TTA on the test split): four stages of two 3x3 convolutions (64/128/256/512, each with batch norm and
  ReLU) and a 2x2 max-pool, then two fully connected layers of 1024 and the classifier; 10.5M parameters,
  about 40 % of ResNet-18's operations at 48x48. The other teacher family for issue 9, whose ResNet-18s
  stopped at 70.3-71.0 %. `vgg_s` is the same at a sixteenth of the width, for quick checks and fixtures.
"""

from __future__ import annotations

from functools import partial
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
    BatchNorm momentum 0.9 (PyTorch's 0.1), so short runs end with usable moving statistics. Layers are
    named by stage and block (`resnet_blocks`) so that torch_engine's PyTorch twin can hand its weights over by name.
    """
    keras, L = _keras()
    BatchNorm = _batch_norm(fused_batchnorm)

    def bn(x, layer_name):
        return BatchNorm(momentum=0.9, epsilon=1e-5, name=layer_name)(x)

    def basic_block(x, width: int, stride: int, prefix: str):
        shortcut = x
        y = L.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{prefix}_conv1")(x)
        y = L.ReLU()(bn(y, f"{prefix}_bn1"))
        y = bn(L.Conv2D(width, 3, padding="same", use_bias=False, name=f"{prefix}_conv2")(y), f"{prefix}_bn2")
        if stride != 1 or shortcut.shape[-1] != width:
            shortcut = L.Conv2D(width, 1, strides=stride, use_bias=False, name=f"{prefix}_shortcut_conv")(shortcut)
            shortcut = bn(shortcut, f"{prefix}_shortcut_bn")
        return L.ReLU()(L.Add()([y, shortcut]))

    inp = keras.Input((input_size, input_size, 1), name="face")
    x = L.ReLU()(bn(L.Conv2D(widths[0], 3, padding="same", use_bias=False, name="stem_conv")(inp), "stem_bn"))
    for stage, block, width, stride in resnet_blocks(widths, blocks, first_stride):
        x = basic_block(x, width, stride, f"stage{stage}_block{block}")
    x = L.GlobalAveragePooling2D()(x)
    if dropout:
        x = L.Dropout(dropout)(x)
    x = L.Dense(num_classes, name="logits")(x)
    out = L.Activation("softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inp, out, name=name)


def resnet_blocks(widths: tuple[int, ...], blocks: tuple[int, ...],
                  first_stride: int) -> list[tuple[int, int, int, int]]:
    """(stage, block, width, stride) of every basic block, in order (stages and blocks counted from 1)."""
    return [(stage + 1, i + 1, width, (first_stride if stage == 0 else 2) if i == 0 else 1)
            for stage, (width, n) in enumerate(zip(widths, blocks)) for i in range(n)]


# name -> (widths, blocks per stage, first-stage stride): the ResNets, shared with torch_engine's twin
RESNETS: dict[str, tuple[tuple[int, ...], tuple[int, ...], int]] = {
    "resnet18": ((64, 128, 256, 512), (2, 2, 2, 2), 1),
    "resnet_m": ((32, 64, 128, 256), (1, 1, 1, 1), 2),
    # resnet_m's parameters with its first stage at the full 48x48 (stages at 48, 24, 12, 6 instead of
    # 24 ... 3): four times the compute, still well inside the student's 1 ms per face
    "resnet_m_fullres": ((32, 64, 128, 256), (1, 1, 1, 1), 1),
    "resnet_s": ((16, 32, 64, 128), (1, 1, 1, 1), 2),
}


def vgg(input_size: int = 48, num_classes: int = 7, widths: tuple[int, ...] = (64, 128, 256, 512),
        convs: int = 2, dense: tuple[int, ...] = (1024, 1024), dropout: float | None = None, name: str = "vgg",
        fused_batchnorm: bool = False) -> Any:
    """A VGG-style network: stages of `convs` 3x3 convolutions (batch norm, ReLU) closed by a 2x2 max-pool, then
    `dense` fully connected layers (ReLU, dropout; None: VGG_DROPOUT) and the classifier.

    Layers are named `stage{s}_conv{k}`, `stage{s}_bn{k}`, `fc{j}` and `logits`, so that torch_engine's twin
    can hand its weights over by name; batch norm as in `resnet`.
    """
    dropout = VGG_DROPOUT if dropout is None else dropout
    keras, L = _keras()
    BatchNorm = _batch_norm(fused_batchnorm)
    inp = keras.Input((input_size, input_size, 1), name="face")
    x = inp
    for stage, width in enumerate(widths, 1):
        for k in range(1, convs + 1):
            x = L.Conv2D(width, 3, padding="same", use_bias=False, name=f"stage{stage}_conv{k}")(x)
            x = L.ReLU()(BatchNorm(momentum=0.9, epsilon=1e-5, name=f"stage{stage}_bn{k}")(x))
        x = L.MaxPooling2D(2)(x)
    x = L.Flatten()(x)  # channels last: torch_engine's twin flattens in the same order
    for j, units in enumerate(dense, 1):
        x = L.ReLU()(L.Dense(units, name=f"fc{j}")(x))
        if dropout:
            x = L.Dropout(dropout)(x)
    x = L.Dense(num_classes, name="logits")(x)
    out = L.Activation("softmax", name="predictions", dtype="float32")(x)
    return keras.Model(inp, out, name=name)


VGG_DROPOUT = 0.3  # the VGGs' default dropout after each dense layer (both engines)
# name -> (stage widths, convolutions per stage, fully connected widths): the VGGs, shared with torch_engine's twin
VGGS: dict[str, tuple[tuple[int, ...], int, tuple[int, ...]]] = {
    "vgg": ((64, 128, 256, 512), 2, (1024, 1024)),
    "vgg_s": ((16, 32, 64, 128), 2, (64, 64)),
}


def _named_vgg(arch: str, size: int, n: int, dropout: float | None = None, **kw: Any) -> Any:
    widths, convs, dense = VGGS[arch]
    return vgg(size, n, widths, convs, dense, dropout=dropout, name=arch, **kw)


Builder = Callable[..., Any]  # (input_size, num_classes, dropout=..., fused_batchnorm=...) -> keras.Model

ARCHITECTURES: dict[str, Builder] = {
    "mini_xception": lambda size, n, dropout=0.0, **kw: mini_xception(size, n, dropout=dropout, **kw),
    "mini_xception_wide": lambda size, n, dropout=0.3, **kw: mini_xception_wide(size, n, dropout=dropout, **kw),
}


def _named_resnet(arch: str, size: int, n: int, dropout: float = 0.0, **kw: Any) -> Any:
    widths, blocks, first_stride = RESNETS[arch]
    return resnet(size, n, widths, blocks, first_stride=first_stride, dropout=dropout, name=arch, **kw)


ARCHITECTURES |= {arch: partial(_named_resnet, arch) for arch in RESNETS}
ARCHITECTURES |= {arch: partial(_named_vgg, arch) for arch in VGGS}
DEFAULT_INPUT_SIZE = 48  # FER2013's own resolution: no upscaling


def set_named_weights(model: Any, weights: dict[str, list[Any]]) -> Any:
    """Give every weighted layer of `model` its arrays from `weights` (layer name -> Keras-layout arrays).

    How a network trained elsewhere (torch_engine's PyTorch twin) enters its Keras build; the names must
    match one to one, so a renamed or missing layer fails loudly instead of loading shifted weights.
    """
    weighted = [layer for layer in model.layers if layer.weights]
    if sorted(layer.name for layer in weighted) != sorted(weights):
        raise ValueError(f"The weights do not match the layers of {model.name}: "
                         f"{sorted(set(weights) ^ {layer.name for layer in weighted})[:4]} differ.")
    for layer in weighted:
        layer.set_weights(weights[layer.name])
    return model


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
