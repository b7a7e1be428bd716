"""Native PyTorch training of the ResNets and VGGs, for a GPU machine: `python -m fer_core.train --engine torch`.

Why a second engine: Keras 3 on torch ran a ResNet-18 step at 48x48 in 60 ms on an H200, where plain PyTorch
takes about 12 ms (tools/gpu_job/README.md), so a 15-minute GPU slot trained 21 epochs instead of 100+.
This engine keeps everything else of a run the same: the TrainConfig and its recipes, the data loading and
checks, the distillation loss (stored or online teachers), the mixing plans, the augmentation preset,
checkpoints every epoch with `--resume`, the time budget, `--ema` (here torch's own `AveragedModel`), and
the output. At the end the PyTorch twin hands its weights, by layer name, to the Keras build of the same
architecture (`architectures.resnet`), which is checked to give the same probabilities and is saved as
`model.keras` with training.json, exactly as the Keras engine does. So conversion, the card and the runtime
never know which engine trained a model.

Online teachers (`--teacher-model`) run as frozen twins too (`from_keras`), in the same autocast as the student.

The twin reproduces Keras's layers exactly: TensorFlow's "same" padding (a stride-2 3x3 convolution pads
one pixel at the bottom and right only), batch norm with the same epsilon and momentum, inputs in [-1, 1],
and (the VGGs) Keras's channels-last order where the features are flattened for the first dense layer.

Importing this module imports torch; only `loop.train` does, and only for `--engine torch`.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..emotions import EMOTIONS
from .architectures import RESNETS, VGG_DROPOUT, VGGS, build, resnet_blocks, set_named_weights
from .augmentation import PRESETS, AugmentConfig
from .config import TrainConfig, TrainingError
from .data import FaceDataset
from .mixing import batch_rng, mix_plan
from .reports import raw_note as _raw_note
from .saving import RunSummary, TrainResult, save_run
from .schedule import class_weight_vector, lr_at, replan

NUM_CLASSES = len(EMOTIONS)
BN_EPSILON, BN_MOMENTUM = 1e-5, 0.1  # Keras: epsilon 1e-5, momentum 0.9 (its momentum is 1 - PyTorch's)


# ------------------------------------------------------------------------------------------------ the twin
class SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow's "same" padding.

    At stride 1 that is the usual symmetric padding, done inside the convolution; only strided
    convolutions pad explicitly (one pixel at the bottom and right for a 3x3 at stride 2 on even sizes).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        k, s = self.kernel_size[0], self.stride[0]
        self.explicit_pad = k > 1 and s > 1
        if k > 1 and s == 1:
            self.padding = (k // 2, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.explicit_pad:
            k, s, size = self.kernel_size[0], self.stride[0], x.shape[-1]
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            x = F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))
        return super().forward(x)


class Twin(nn.Module):
    """What the twins share: their weighted layers under the Keras build's names, dropout, He-initialised
    convolutions."""

    def _set_layers(self, layers: dict[str, nn.Module], dropout: float) -> None:
        self.layers = nn.ModuleDict(layers)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _bn(width: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(width, eps=BN_EPSILON, momentum=BN_MOMENTUM)


class ResNetTwin(Twin):
    """The PyTorch twin of `architectures.resnet`: same layers, same names, logits out (no softmax)."""

    def __init__(self, arch: str, num_classes: int = NUM_CLASSES, dropout: float = 0.0):
        super().__init__()
        widths, blocks, first_stride = RESNETS[arch]
        self.plan = resnet_blocks(widths, blocks, first_stride)
        layers: dict[str, nn.Module] = {"stem_conv": SameConv2d(1, widths[0], 3, bias=False),
                                        "stem_bn": self._bn(widths[0])}
        channels = widths[0]
        for stage, block, width, stride in self.plan:
            prefix = f"stage{stage}_block{block}"
            layers[f"{prefix}_conv1"] = SameConv2d(channels, width, 3, stride=stride, bias=False)
            layers[f"{prefix}_bn1"] = self._bn(width)
            layers[f"{prefix}_conv2"] = SameConv2d(width, width, 3, bias=False)
            layers[f"{prefix}_bn2"] = self._bn(width)
            if stride != 1 or channels != width:
                layers[f"{prefix}_shortcut_conv"] = SameConv2d(channels, width, 1, stride=stride, bias=False)
                layers[f"{prefix}_shortcut_bn"] = self._bn(width)
            channels = width
        layers["logits"] = nn.Linear(channels, num_classes)
        self._set_layers(layers, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, S, S) faces in [-1, 1] -> (N, classes) logits."""
        L = self.layers
        x = F.relu(L["stem_bn"](L["stem_conv"](x)))
        for stage, block, _, _ in self.plan:
            p = f"stage{stage}_block{block}"
            y = F.relu(L[f"{p}_bn1"](L[f"{p}_conv1"](x)))
            y = L[f"{p}_bn2"](L[f"{p}_conv2"](y))
            shortcut = L[f"{p}_shortcut_bn"](L[f"{p}_shortcut_conv"](x)) if f"{p}_shortcut_conv" in L else x
            x = F.relu(y + shortcut)
        return L["logits"](self.dropout(x.mean(dim=(2, 3))))


class VGGTwin(Twin):
    """The PyTorch twin of `architectures.vgg`: same layers, same names, logits out (no softmax)."""

    def __init__(self, arch: str, num_classes: int = NUM_CLASSES, dropout: float = VGG_DROPOUT, input_size: int = 48):
        super().__init__()
        widths, self.convs, dense = VGGS[arch]
        self.stages = len(widths)
        layers: dict[str, nn.Module] = {}
        channels = 1
        for stage, width in enumerate(widths, 1):
            for k in range(1, self.convs + 1):
                layers[f"stage{stage}_conv{k}"] = SameConv2d(channels, width, 3, bias=False)
                layers[f"stage{stage}_bn{k}"] = self._bn(width)
                channels = width
        features = channels * (input_size // 2 ** self.stages) ** 2  # what the Keras build's Flatten passes on
        self.dense = len(dense)
        for j, units in enumerate(dense, 1):
            layers[f"fc{j}"] = nn.Linear(features, units)
            features = units
        layers["logits"] = nn.Linear(features, num_classes)
        self._set_layers(layers, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, S, S) faces in [-1, 1] -> (N, classes) logits."""
        L = self.layers
        for stage in range(1, self.stages + 1):
            for k in range(1, self.convs + 1):
                x = F.relu(L[f"stage{stage}_bn{k}"](L[f"stage{stage}_conv{k}"](x)))
            x = F.max_pool2d(x, 2)
        x = x.permute(0, 2, 3, 1).flatten(1)  # channels last, as Keras's Flatten
        for j in range(1, self.dense + 1):
            x = self.dropout(F.relu(L[f"fc{j}"](x)))
        return L["logits"](x)


TWIN_ARCHS = (*RESNETS, *VGGS)


def make_twin(arch: str, num_classes: int = NUM_CLASSES, dropout: float | None = None, input_size: int = 48) -> Twin:
    """The PyTorch twin of architecture `arch` (a ResNet or a VGG); `dropout` None: the architecture's default."""
    if arch in RESNETS:
        return ResNetTwin(arch, num_classes, dropout or 0.0)
    if arch in VGGS:
        return VGGTwin(arch, num_classes, VGG_DROPOUT if dropout is None else dropout, input_size)
    raise TrainingError(f"--engine torch trains the ResNets and VGGs ({', '.join(TWIN_ARCHS)}), not '{arch}'.")


def keras_weights(twin: Twin) -> dict[str, list[np.ndarray]]:
    """The twin's weights in Keras's layouts, by layer name (conv HWIO, dense (in, out), BN 4 vectors)."""
    out: dict[str, list[np.ndarray]] = {}
    for name, module in twin.layers.items():
        if isinstance(module, nn.Conv2d):
            out[name] = [module.weight.detach().float().permute(2, 3, 1, 0).cpu().numpy()]
        elif isinstance(module, nn.BatchNorm2d):
            out[name] = [t.detach().float().cpu().numpy() for t in
                         (module.weight, module.bias, module.running_mean, module.running_var)]
        elif isinstance(module, nn.Linear):
            out[name] = [module.weight.detach().float().t().cpu().numpy(), module.bias.detach().float().cpu().numpy()]
    return out


def from_keras(keras_model: Any) -> Twin:
    """The twin of a Keras ResNet or VGG (an online teacher), its architecture found from its layers' names and
    shapes."""
    layers = {layer.name: layer for layer in _keras_layers(keras_model) if layer.get_weights()}
    weights = {name: [np.asarray(w) for w in layer.get_weights()] for name, layer in layers.items()}
    found = {name: ([w.shape for w in ws], tuple(getattr(layers[name], "strides", ()))) for name, ws in weights.items()}
    for arch in TWIN_ARCHS:  # the same shapes may differ in strides (resnet_m and resnet_m_fullres)
        twin = make_twin(arch, int(keras_model.output_shape[-1]), input_size=int(keras_model.input_shape[1]))
        expected = {name: ([w.shape for w in ws], tuple(getattr(twin.layers[name], "stride", ()) or ()))
                    for name, ws in keras_weights(twin).items()}
        if expected == found:
            break
    else:
        raise TrainingError(f"The teacher '{keras_model.name}' is not one of the networks the torch engine runs "
                            f"({', '.join(TWIN_ARCHS)}).")
    with torch.no_grad():
        for name, module in twin.layers.items():
            w = [torch.from_numpy(a.astype(np.float32)) for a in weights[name]]
            if isinstance(module, nn.Conv2d):
                module.weight.copy_(w[0].permute(3, 2, 0, 1))
            elif isinstance(module, nn.BatchNorm2d):
                for target, value in zip((module.weight, module.bias, module.running_mean, module.running_var), w):
                    target.copy_(value)
            elif isinstance(module, nn.Linear):
                module.weight.copy_(w[0].t())
                module.bias.copy_(w[1])
    return twin


def _keras_layers(model: Any) -> list[Any]:
    """Every layer of a Keras model, nested models opened."""
    out = []
    for layer in model.layers:
        out += _keras_layers(layer) if hasattr(layer, "layers") else [layer]
    return out


def online_teachers(refs: list[str], faces: np.ndarray, device: torch.device) -> list[Twin]:
    """The teacher networks of `--teacher-model` as frozen twins on `device`, each checked against its Keras
    model on `faces` (TF32 is restored afterwards: check_twin switches it off)."""
    from .distillation import load_teacher_network

    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    twins = []
    for ref in refs:
        keras_model = load_teacher_network(ref)
        twin = from_keras(keras_model).to(device)
        check_twin(twin, keras_model, faces, device)
        twins.append(twin.eval().requires_grad_(False).to(memory_format=torch.channels_last))
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    return twins


def to_keras(twin: Twin, arch: str, input_size: int, dropout: float | None = None) -> Any:
    """The float32 Keras build of `arch` holding the twin's weights (every weighted layer, matched by name)."""
    import keras

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        model = build(arch, input_size, NUM_CLASSES, dropout=dropout)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    return set_named_weights(model, keras_weights(twin))


def twin_probabilities(twin: Twin, faces: np.ndarray, device: torch.device, batch: int = 1024,
                       bf16: bool = False) -> np.ndarray:
    """Softmax of the twin (evaluation mode; float32, or bfloat16 autocast for the per-epoch validation)."""
    twin.eval()
    out = []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(faces), batch):
            out.append(torch.softmax(twin(_scale(torch.from_numpy(faces[i:i + batch]).to(device))).float(), 1))
    return torch.cat(out).cpu().numpy()


def _scale(faces_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, S, S) -> float (N, 1, S, S) in [-1, 1], as `preprocess.scale_pixels`."""
    return (faces_uint8.float() / 127.5 - 1.0).unsqueeze(1)


# ------------------------------------------------------------------------------------------------ augmentation
def augment(x: torch.Tensor, c: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """The `augmentation_layer.FaceAugmentation` transform on a whole batch (N, 1, S, S) on its device:
    mirror, rotation, zoom and shift in one bilinear warp with mirrored borders, brightness and contrast
    jitter, then random erasing with noise."""
    n, size = x.shape[0], x.shape[-1]
    dev = x.device

    def uniform(shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
        return torch.rand(shape, generator=gen, device=dev) * (high - low) + low

    mirror = torch.where(uniform((n, 1, 1), 0, 1) < c.flip, -1.0, 1.0)
    angle = uniform((n, 1, 1), -1, 1) * math.radians(c.rotate)
    zoom = 1.0 + uniform((n, 1, 1), -c.zoom, c.zoom)
    shift_x, shift_y = (uniform((n, 1, 1), -c.shift, c.shift) * size for _ in range(2))
    centre = (size - 1) / 2.0
    grid = torch.arange(size, device=dev, dtype=torch.float32) - centre
    dx, dy = grid.view(1, 1, size) * mirror, grid.view(1, size, 1)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    src_x = cos * dx - sin * dy + centre + shift_x
    src_y = sin * dx + cos * dy + centre + shift_y
    sample_grid = torch.stack([src_x, src_y], dim=-1) / (size - 1) * 2 - 1  # align_corners=True coordinates
    x = F.grid_sample(x, sample_grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (1.0 + uniform((n, 1, 1, 1), -c.contrast, c.contrast)) + mean \
        + uniform((n, 1, 1, 1), -c.brightness, c.brightness) * 2.0
    if c.erase > 0:
        low, high = c.erase_area
        area = uniform((n, 1, 1, 1), low, high) * size * size
        aspect = torch.exp(uniform((n, 1, 1, 1), math.log(0.3), math.log(3.3)))
        h = torch.clamp(torch.sqrt(area * aspect), max=size - 1.0)
        w = torch.clamp(torch.sqrt(area / aspect), max=size - 1.0)
        top = uniform((n, 1, 1, 1), 0, 1) * (size - h)
        left = uniform((n, 1, 1, 1), 0, 1) * (size - w)
        rows = torch.arange(size, device=dev, dtype=torch.float32).view(1, 1, size, 1)
        cols = torch.arange(size, device=dev, dtype=torch.float32).view(1, 1, 1, size)
        inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w) \
            & (uniform((n, 1, 1, 1), 0, 1) < c.erase)
        x = torch.where(inside, uniform(tuple(x.shape), -1, 1), x)
    return x.clamp(-1.0, 1.0)


# ------------------------------------------------------------------------------------------------ loss
def distillation_loss(logits: torch.Tensor, targets: torch.Tensor, weight: float, temperature: float,
                      label_smoothing: float) -> torch.Tensor:
    """Per-face `distillation.DistillationLoss` on logits: (1 - w) CE(smoothed labels) + w T^2 KL(teacher || student)."""
    logits = logits.float()
    labels, teacher = targets[:, :NUM_CLASSES], targets[:, NUM_CLASSES:]
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / NUM_CLASSES
    ce = -(labels * F.log_softmax(logits, dim=1)).sum(1)
    if not weight:
        return ce
    t = temperature
    log_q = F.log_softmax(torch.log(teacher.clamp(1e-7, 1.0)) / t, dim=1)
    kl = (log_q.exp() * (log_q - F.log_softmax(logits / t, dim=1))).sum(1) * (t * t)
    w = weight * (teacher.sum(1) > 0.5).float()
    return (1.0 - w) * ce + w * kl


# ------------------------------------------------------------------------------------------------ training
class CheckpointWriter:
    """Writes each epoch's checkpoint in a background thread, so the GPU does not wait for the disk.

    A ResNet-18 checkpoint (weights and momentum) is 90 MB: written in line it cost about 0.6 s of a 3 s
    epoch on the H100 machine. The tensors are copied to host memory first (milliseconds), the file is
    written under a temporary name and renamed, and state.json follows it, so a run cut off mid-write
    resumes from the previous complete checkpoint.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def write(self, obj: dict[str, Any], path: Path, state_path: Path, state_text: str) -> None:
        """Save `obj` to `path`, then `state_text` to `state_path`, in the background."""
        self.wait()
        host = _to_host(obj)

        def save() -> None:
            tmp = path.with_suffix(".tmp")
            torch.save(host, tmp)
            os.replace(tmp, path)
            state_path.write_text(state_text)

        self._thread = threading.Thread(target=save, daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _to_host(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _to_host(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_host(v) for v in obj)
    return obj


def train_native(cfg: TrainConfig, train_ds: FaceDataset, val_ds: FaceDataset, targets: np.ndarray,
                 input_size: int, out_dir: Path, ckpt_dir: Path, t_start: float) -> TrainResult:
    """Train `cfg.arch` in PyTorch and save it through the Keras build (see the module)."""
    from .reports import accuracy_report, write_log

    if cfg.finetune or cfg.freeze_blocks:
        raise TrainingError("--engine torch trains from scratch; fine-tune with the Keras engine.")
    if cfg.schedule != "cosine":
        raise TrainingError("--engine torch uses the cosine schedule.")
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    hardware = torch.cuda.get_device_name(0) if dev.type == "cuda" else "CPU"
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=dev)
    gen.manual_seed(cfg.seed)
    bf16 = cfg.precision in ("auto", "mixed_bfloat16") and dev.type == "cuda"
    precision = "bfloat16 autocast (torch)" if bf16 else "float32"

    twin = make_twin(cfg.arch, dropout=cfg.dropout, input_size=input_size).to(dev).to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in twin.parameters())
    if cfg.optimizer == "sgd":  # the config's decay is decoupled (lr x wd per step): PyTorch's coupled one
        # goes through the momentum buffer, 1 / (1 - momentum) times stronger (see config.RECIPES)
        opt = torch.optim.SGD(twin.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True,
                              weight_decay=cfg.weight_decay * (1 - cfg.momentum))
    else:
        opt = torch.optim.AdamW(twin.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # --ema: the average of every weight, batch-norm statistics included (as weight_average.py in Keras)
    average = AveragedModel(twin, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True) if cfg.ema else None
    augment_cfg = PRESETS[cfg.augment]
    teachers = online_teachers(cfg.teacher_models, val_ds.x[:256], dev) if cfg.teacher_models else []
    x_train = torch.from_numpy(train_ds.x).to(dev)
    t_train = torch.from_numpy(targets).to(dev)
    row_weights = torch.from_numpy(class_weight_vector(train_ds.y)[train_ds.y]).to(dev) if cfg.class_weights else None
    y_train = torch.from_numpy(train_ds.y).to(dev)
    batch_size = min(cfg.batch_size, len(train_ds))
    steps = max(1, len(train_ds) // batch_size)  # full batches, reshuffled every epoch (as the Keras engine)

    state: dict[str, Any] = {"history": [], "best_val": -1.0, "best_epoch": 0, "planned_epochs": cfg.epochs,
                             "seconds": 0.0}
    last_path, best_path, state_path = ckpt_dir / "last.pt", ckpt_dir / "best.pt", ckpt_dir / "state.json"
    if cfg.resume and last_path.exists() and state_path.exists():
        state = json.loads(state_path.read_text())
        saved = torch.load(last_path, map_location=dev)
        twin.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        gen.set_state(saved["generator"].cpu())
        if average is not None and "average" in saved:
            average.load_state_dict(saved["average"])
        if cfg.epochs != state["config"]["epochs"]:
            state["planned_epochs"] = cfg.epochs
        if cfg.verbose:
            print(f"resuming from epoch {len(state['history'])}", flush=True)
    history: list[dict[str, float]] = state["history"]
    seconds_before = float(state.get("seconds", 0.0))
    recent: list[float] = []
    last_end = time.time()

    def elapsed() -> float:
        return seconds_before + time.time() - t_start

    checkpoints = CheckpointWriter()
    epoch = len(history)
    while epoch < state["planned_epochs"]:
        t0 = time.time()
        twin.train()
        order = torch.randperm(len(train_ds), generator=gen, device=dev)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev)
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, epoch + step / steps, state["planned_epochs"])
            xb, tb = _scale(x_train[idx]), t_train[idx]
            plan = mix_plan(batch_rng(cfg.seed, epoch, step), len(idx), input_size, cfg.mix, cfg.mix_alpha,
                            cfg.mix_prob)
            if plan is not None:
                xb, tb = plan.apply(xb, tb, lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev),
                                    channels_first=True)
            if augment_cfg is not None:
                xb = augment(xb, augment_cfg, gen)
            xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                logits = twin(xb)
                if teachers:  # online distillation: the teachers answer on the very faces the student sees
                    with torch.no_grad():
                        answer = torch.stack([torch.softmax(t(xb).float(), 1) for t in teachers]).mean(0)
                    tb = torch.cat([tb[:, :NUM_CLASSES], answer], 1)
            loss = distillation_loss(logits, tb, cfg.distill_weight if cfg.distils else 0.0,
                                     cfg.temperature, cfg.label_smoothing)
            loss = (loss * row_weights[idx]).mean() if row_weights is not None else loss.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if average is not None:
                average.update_parameters(twin)
            loss_sum += loss.detach()
            correct += (logits.argmax(1) == y_train[idx]).sum()
        kept_net = average.module if average is not None else twin  # what is validated and kept
        probs = twin_probabilities(kept_net, val_ds.x, dev, bf16=bf16)
        val_loss = float(-np.log(np.clip(probs[np.arange(len(val_ds)), val_ds.y], 1e-7, 1)).mean())
        record = {"epoch": epoch + 1, "loss": float(loss_sum) / steps, "accuracy": float(correct) / (steps * batch_size),
                  "val_loss": val_loss, "val_accuracy": float((probs.argmax(1) == val_ds.y).mean()),
                  "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 2)}
        if average is not None:  # the running weights too, so one run shows what the average is worth
            raw = twin_probabilities(twin, val_ds.x, dev, bf16=bf16)
            record["raw_val_accuracy"] = float((raw.argmax(1) == val_ds.y).mean())
        history.append(record)
        improved = record["val_accuracy"] > state["best_val"]
        if improved:
            state["best_val"], state["best_epoch"] = record["val_accuracy"], epoch + 1
            if cfg.keep == "best":
                torch.save(kept_net.state_dict(), best_path)
        recent = (recent + [time.time() - last_end])[-3:] if epoch > 0 else []
        last_end = time.time()
        replan(cfg, state, epoch + 1, recent, elapsed())
        state["seconds"] = elapsed()
        saved_state = {"model": twin.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state()}
        if average is not None:
            saved_state["average"] = average.state_dict()
        checkpoints.write(saved_state,
                          last_path, state_path, json.dumps(state | {"config": asdict(cfg), "engine": "torch"}, indent=1))
        write_log(history, ckpt_dir / "training_log.csv")
        if cfg.verbose:
            print(f"epoch {epoch + 1}/{state['planned_epochs']}: loss {record['loss']:.4f} acc {record['accuracy']:.4f} "
                  f"val_loss {val_loss:.4f} val_acc {record['val_accuracy']:.4f} lr {record['lr']:.2e} "
                  f"{record['seconds']:.1f}s{_raw_note(record)}{' *best*' if improved else ''}", flush=True)
        epoch += 1

    checkpoints.wait()
    kept_epoch = len(history)
    if average is not None:
        twin = average.module
    if cfg.keep == "best" and best_path.exists():
        twin.load_state_dict(torch.load(best_path, map_location=dev))
        kept_epoch = state["best_epoch"]
    twin = twin.float().to(memory_format=torch.contiguous_format)
    final = to_keras(twin, cfg.arch, input_size, cfg.dropout)
    check_twin(twin, final, val_ds.x[:256], dev)
    if cfg.verbose:
        twin_acc = accuracy_report(val_ds.y, twin_probabilities(twin, val_ds.x, dev))["accuracy"]
        print(f"kept epoch {kept_epoch}: PyTorch validation accuracy {twin_acc:.4f}", flush=True)
    run = RunSummary(history, state["best_epoch"], kept_epoch, elapsed(), params, "torch",
                     precision, hardware)
    return save_run(cfg, final, run, input_size, train_ds, val_ds, out_dir)


def check_twin(twin: Twin, keras_model: Any, faces: np.ndarray, device: torch.device,
               tolerance: float = 1e-3) -> float:
    """Largest difference between the twin's and the Keras model's probabilities; raises above `tolerance`.

    TF32 is switched off first: with it, cuDNN rounds float32 convolutions to 10-bit mantissas on Ampere and
    later GPUs, and the two networks (which pick different kernels) would differ by more than the port.
    """
    from .reports import predict

    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    diff = float(np.abs(twin_probabilities(twin, faces, device) - predict(keras_model, faces)).max())
    print(f"the Keras model matches the PyTorch network to {diff:.1e} in probability", flush=True)
    if diff > tolerance:
        raise TrainingError(f"The Keras model differs from the trained PyTorch network by {diff:.2g} in probability.")
    return diff
