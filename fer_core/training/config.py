"""A training run as data: one `TrainConfig`, and named recipes that fill it in.

A recipe is a set of field values, not a code path: `--recipe accurate` is exactly the fields below, and
any option given on the command line overrides the recipe's value. The model card records the resolved
configuration and the command, so a model can always be trained again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import FerError
from .augmentation import PRESETS

ENGINES = ("keras", "torch")  # torch: native PyTorch for the ResNets and VGGs on a GPU (torch_engine.py)


class TrainingError(FerError):
    """The training options do not fit together (e.g. an input size a fine-tuned model cannot take)."""


@dataclass
class TrainConfig:
    data: str
    val: str | None = None
    val_split: float = 0.1
    name: str | None = None
    title: str | None = None
    out: str | None = None
    recipe: str | None = None
    finetune: str | None = None
    freeze_blocks: int = 0
    arch: str = "mini_xception_wide"
    input_size: int | None = None
    dropout: float | None = None          # None: the architecture's own default
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "adamw"              # adamw | sgd (Nesterov momentum)
    lr: float = 2e-3
    weight_decay: float = 0.01            # decoupled (Keras applies lr * weight_decay per step)
    momentum: float = 0.9
    schedule: str = "cosine"              # cosine (with warm-up) | plateau (halve on a val-accuracy plateau)
    warmup_epochs: int = 2
    patience: int = 12                    # early stopping on val accuracy (0 = never)
    keep: str = "best"                    # best (highest validation accuracy) | last epoch
    ema: float = 0.0                      # per-step decay of an average of the weights (0: off); it is kept
    label_smoothing: float = 0.0
    soft_labels: str | None = None        # FER+ votes CSV blended into the label targets
    soft_weight: float = 0.3
    teacher: str | None = None            # stored teacher probabilities (.npz) to distil from
    teacher_models: list[str] | None = None  # teacher networks run on every augmented batch (online distillation)
    distill_weight: float = 0.7
    temperature: float = 2.0
    class_weights: bool = False
    augment: str = "standard"             # a name in augmentation.PRESETS (runs on the training device)
    mix: str = "none"                     # none | mixup | cutmix (mixing.py): blend pairs of faces and targets
    mix_alpha: float | None = None        # Beta(alpha, alpha) share; None: mixing.DEFAULT_ALPHA
    mix_prob: float = 0.5                 # the chance that a face is mixed
    engine: str = "keras"                 # keras | torch (native PyTorch for the ResNets and VGGs on a GPU: torch_engine.py)
    precision: str = "auto"               # auto (mixed bf16 on a GPU) | float32 | mixed_bfloat16 | mixed_float16
    time_budget: float | None = None      # minutes: fit the epoch count (and the schedule) into this time
    limit: int | None = None              # train on a random subset of this many faces (quick checks)
    seed: int = 0
    resume: bool = False
    checkpoint_dir: str | None = None
    face_margin: float = 0.1
    verbose: int = 1
    command: str = ""                     # the command line, for the card

    @property
    def distils(self) -> bool:
        """Whether a teacher takes part: stored probabilities or teacher networks."""
        return bool(self.teacher or self.teacher_models)

    def resolved_name(self) -> str:
        if self.name:
            return self.name
        if self.out:
            return Path(self.out).name
        return f"{Path(self.finetune).name}_finetuned" if self.finetune else f"{self.arch}_trained"

    def validate(self) -> None:
        """Raise TrainingError with one sentence for options that cannot work (before any data is read)."""
        from .architectures import ARCHITECTURES
        from .mixing import MIXES

        checks = [
            (self.arch in ARCHITECTURES, f"Unknown architecture '{self.arch}'; choose one of {', '.join(ARCHITECTURES)}."),
            (self.augment in PRESETS, f"Unknown augmentation '{self.augment}'; choose one of {', '.join(PRESETS)}."),
            (self.schedule in ("cosine", "plateau"), f"Unknown schedule '{self.schedule}'; choose cosine or plateau."),
            (self.optimizer in ("adamw", "sgd"), f"Unknown optimizer '{self.optimizer}'; choose adamw or sgd."),
            (self.keep in ("best", "last"), f"--keep must be best or last, not '{self.keep}'."),
            (self.epochs >= 1, "--epochs must be at least 1."),
            (self.batch_size >= 1, "--batch-size must be at least 1."),
            (self.lr > 0, "--lr must be positive."),
            (0.0 <= self.ema < 1.0, "--ema must be at least 0 and below 1 (0.999 averages about 1,000 steps)."),
            (0.0 <= self.distill_weight <= 1.0, "--distill-weight must be between 0 and 1."),
            (self.temperature > 0, "--temperature must be positive."),
            (not (self.teacher and self.teacher_models), "Give --teacher (stored targets) or --teacher-model, not both."),
            (self.mix in MIXES, f"Unknown mix '{self.mix}'; choose one of {', '.join(MIXES)}."),
            (self.mix_alpha is None or self.mix_alpha > 0, "--mix-alpha must be positive."),
            (0.0 < self.mix_prob <= 1.0, "--mix-prob must be above 0 and at most 1."),
            (self.time_budget is None or self.time_budget > 0, "--time-budget must be a positive number of minutes."),
            (self.limit is None or self.limit >= 2, "--limit must be at least 2 faces."),
            (self.engine in ENGINES, f"Unknown engine '{self.engine}'; choose {' or '.join(ENGINES)}."),
            (self.precision in ("auto", "float32", "mixed_bfloat16", "mixed_float16"),
             f"Unknown precision '{self.precision}'."),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainingError(message)


RECIPES: dict[str, dict[str, Any]] = {
    # The `accurate` teacher: ResNet-18 for 48x48, the reference recipe: SGD with Nesterov momentum,
    # batch 128, lr 0.1 cosine to zero, label smoothing 0.1, augmentation on the device, last epoch kept. On a
    # GPU train it with `--engine torch` (tools/gpu_job/). Weight decay 5e-3 decoupled equals PyTorch's coupled
    # 5e-4 under momentum 0.9 (Keras applies lr * wd per step; PyTorch's goes through the momentum buffer,
    # 1 / (1 - 0.9) = 10x; torch_engine converts it back).
    "accurate": dict(arch="resnet18", optimizer="sgd", lr=0.1, batch_size=128, weight_decay=5e-3, momentum=0.9,
                     label_smoothing=0.1, epochs=100, warmup_epochs=1, patience=0, augment="standard",
                     schedule="cosine", dropout=0.0, keep="last"),
    # The `fast` default: a 1.23M-parameter ResNet distilled from the teachers' stored probabilities
    # (KL at temperature 2, weight 0.7, plus 0.3 cross-entropy on the labels).
    "fast": dict(arch="resnet_m", optimizer="sgd", lr=0.2, batch_size=256, weight_decay=5e-3, momentum=0.9,
                 label_smoothing=0.1, epochs=100, warmup_epochs=3, patience=0, augment="standard",
                 schedule="cosine", dropout=0.0, distill_weight=0.7, temperature=2.0, keep="last"),
}

CONFIG_FIELDS = frozenset(f.name for f in fields(TrainConfig))
