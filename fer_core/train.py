"""Train an emotion model (from scratch, by distillation, or by fine-tuning a registry model) and register it.

    # the `accurate` teacher (ResNet-18; on the GPU machine, see tools/gpu_job/README.md)
    python -m fer_core.train --recipe accurate --data data/Training --val data/PublicTest --name resnet18_fer2013

    # the `fast` student, distilled from the teachers' stored probabilities (CPU or GPU)
    python -m fer_core.train --recipe fast --data data/Training --val data/PublicTest \\
        --teacher models/teacher_targets/fer2013_training.npz --name resnet_m_distilled

    # fine-tune a model on your own class folders, freezing the stem and first module
    python -m fer_core.train --data my_faces/ --val-split 0.15 --finetune mini_xception_fer2013 \\
        --freeze-blocks 2 --epochs 10 --lr 3e-4 --name my_model

The same command trains with Keras on TensorFlow on a CPU and on torch on a GPU (picked automatically; set
KERAS_BACKEND to choose), with mixed precision and the augmentation on the GPU. Data is a folder of class
folders (`DATA/happy/*.jpg`, ...) or a FER2013 CSV (`emotion,pixels,Usage`: Training rows fit and
PublicTest rows validate). The data is checked completely before training starts; problems are reported in
one line. A recipe fills in the options; any option given overrides it.

Writes into the model folder (`--out`, default `models/NAME`): `model.keras`, `training.json`,
`training_log.csv` and, where TensorFlow is installed, `model.tflite`, `model.json` and the card
(`README.md`). Elsewhere, finish with `python -m fer_core.convert --publish FOLDER` on a machine that has it.
A checkpoint is written every epoch to `runs/NAME/` (`--checkpoint-dir`); `--resume` continues from it.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from .errors import FerError
from .training import RECIPES, TrainConfig, train
from .training.architectures import ARCHITECTURES
from .training.augmentation import PRESETS
from .training.config import CONFIG_FIELDS, ENGINES
from .training.mixing import MIXES


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig(data="")
    p = argparse.ArgumentParser(prog="python -m fer_core.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of class folders, or a FER2013 CSV")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--val", help="validation folder or CSV (model selection, early stopping)")
    g.add_argument("--val-split", type=float, default=d.val_split, help="fraction held out when --val is absent")
    p.add_argument("--recipe", choices=tuple(RECIPES), help="named settings (see fer_core/training/config.py)")
    m = p.add_mutually_exclusive_group()
    m.add_argument("--from-scratch", action="store_true", help="build --arch from scratch (the default)")
    m.add_argument("--finetune", metavar="MODEL", help="start from a registry model's Keras weights, or a trained model folder "
                   "(model.keras, or weights.f16.npz with training.json, as the GPU job returns them)")
    p.add_argument("--freeze-blocks", type=int, default=d.freeze_blocks, help="freeze the first N blocks (stem = 1)")
    p.add_argument("--arch", default=d.arch, choices=tuple(ARCHITECTURES))
    p.add_argument("--input-size", type=int, help="face side in pixels (default: the architecture's; fine-tuning: the model's)")
    p.add_argument("--dropout", type=float, help="before the classifier (default: the architecture's)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default=d.optimizer)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="decoupled (lr x wd per step)")
    p.add_argument("--momentum", type=float, default=d.momentum, help="SGD (Nesterov) momentum")
    p.add_argument("--schedule", choices=("cosine", "plateau"), default=d.schedule)
    p.add_argument("--warmup-epochs", type=int, default=d.warmup_epochs)
    p.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience in epochs (0: off)")
    p.add_argument("--keep", choices=("best", "last"), default=d.keep, help="the epoch kept: best on validation, or last")
    p.add_argument("--ema", type=float, default=d.ema, metavar="DECAY",
                   help="keep an exponential moving average of the weights, updated every step (e.g. 0.999): "
                        "validated every epoch and kept instead of the last weights (0: off)")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--soft-labels", metavar="FERPLUS_CSV", help="blend FER+ vote distributions into the labels")
    p.add_argument("--soft-weight", type=float, default=d.soft_weight)
    p.add_argument("--teacher", metavar="TARGETS_NPZ", help="distil from stored teacher probabilities")
    p.add_argument("--teacher-model", dest="teacher_models", nargs="+", metavar="MODEL",
                   help="distil from teacher networks run on every augmented (and mixed) batch, averaged: Keras "
                        "files, trained model folders or registry models with Keras weights, of the same input size")
    p.add_argument("--distill-weight", type=float, default=d.distill_weight, help="weight of the teacher term")
    p.add_argument("--temperature", type=float, default=d.temperature, help="distillation temperature")
    p.add_argument("--class-weights", action="store_true", help="inverse-frequency class weights")
    p.add_argument("--augment", choices=tuple(PRESETS), default=d.augment)
    p.add_argument("--mix", choices=MIXES, default=d.mix, help="blend pairs of faces and their targets "
                   "(mixup: whole faces; cutmix: a rectangle of one pasted into the other)")
    p.add_argument("--mix-alpha", type=float, help="Beta(alpha, alpha) share (default: mixup 0.8, cutmix 1.0)")
    p.add_argument("--mix-prob", type=float, default=d.mix_prob, help="the chance that a face is mixed")
    p.add_argument("--engine", choices=ENGINES, default=d.engine,
                   help="keras (any backend), or torch: native PyTorch for the ResNets and VGGs, 5x faster on a GPU")
    p.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"), default=d.precision,
                   help="auto: mixed bfloat16 on a GPU, float32 on a CPU")
    p.add_argument("--time-budget", type=float, metavar="MINUTES", help="fit the run (and its schedule) into this time")
    p.add_argument("--limit", type=int, help="train on a random subset of this many faces (quick checks)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--checkpoint-dir", help="default runs/NAME")
    p.add_argument("--name", help="registry name (default: from --out or the recipe)")
    p.add_argument("--title")
    p.add_argument("--out", help="model folder (default models/NAME)")
    p.add_argument("--face-margin", type=float, default=d.face_margin)
    p.add_argument("--quiet", action="store_true")
    return p


def parse_config(argv: list[str]) -> TrainConfig:
    """Options over the recipe's values over TrainConfig's defaults."""
    parser = build_parser()
    recipe = parser.parse_known_args(argv)[0].recipe
    if recipe:
        parser.set_defaults(**RECIPES[recipe])
    args = parser.parse_args(argv)
    kwargs = {k: v for k, v in vars(args).items() if k in CONFIG_FIELDS}
    kwargs["verbose"] = 0 if args.quiet else 1
    kwargs["command"] = "python -m fer_core.train " + " ".join(shlex.quote(a) for a in argv)
    return TrainConfig(**kwargs)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = parse_config(argv)
    try:
        result = train(cfg)
    except FerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; resume with the same command and --resume", file=sys.stderr)
        return 130
    val, tta = result.metrics["val"], result.metrics["val_tta"]
    cost = f", {result.metrics['ms_per_face']} ms per face" if "ms_per_face" in result.metrics else ""
    print(f"kept epoch {result.best_epoch if cfg.keep == 'best' else len(result.history)}: validation accuracy "
          f"{val['accuracy']:.2%} ({tta['accuracy']:.2%} with mirror TTA){cost}; model '{result.name}' written to "
          f"{result.model_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
