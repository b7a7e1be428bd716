"""The training loop: one `train(TrainConfig)` for every backend, with per-epoch checkpoints and resume.

The model that trains is the deployable network behind the augmentation layer, compiled with the
distillation loss (plain cross-entropy when there is no teacher). After every epoch the whole training model
(weights and optimizer state) is saved to `CHECKPOINT_DIR/last.keras` with the history in `state.json`, so
`--resume` continues a run that was cut off, e.g. at the end of a GPU slot. `time_budget` fits the run to a
slot: after the second epoch the epoch count (and with it the cosine schedule) is set to what fits, and it is
shortened again whenever the run falls behind. With `--ema`, a moving average of the weights
(`weight_average.py`, saved beside the checkpoint as `average.npz`) is what is validated and kept.

At the end the kept epoch's network is rebuilt in float32 (whatever the training precision), saved as
`model.keras` with `training.json` (configuration, history, hardware, validation accuracy), and, where
TensorFlow is present, converted and published as a registry folder (`conversion.publish`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..emotions import EMOTIONS
from ..models import MODELS_DIR, REPO_ROOT
from .backend import accelerator, configure_tensorflow, select_backend, set_precision
from .config import TrainConfig, TrainingError
from .data import ONLINE_TEACHER_MARK, FaceDataset, combine_targets, ferplus_soft_labels, load_dataset, \
    load_soft_targets, split_validation
from .mixing import batch_rng, mix_plan
from .reports import predict, raw_note, to_model_input, write_log
from .saving import RunSummary, TrainResult, save_run
from .schedule import class_weight_vector, lr_at, replan
from .weight_average import WeightAverage, keras_callback

EpochCallback = Callable[[dict[str, float], list[dict[str, float]]], None]

EAGER_MAX_STEPS = 16
"""A run of at most this many steps to go (training and validation batches, all epochs together) runs eagerly:
tracing the training and validation graphs costs about 4.5 s of CPU, more than the ~0.25 s a step that eager
execution adds. A 2-epoch fine-tune on the 70-face sample (4 steps) trains and saves in 5.1 s instead of 8.5 s."""


# ------------------------------------------------------------------------------------------------ data
def prepare_data(cfg: TrainConfig, input_size: int) -> tuple[FaceDataset, FaceDataset]:
    """Load and check the training and validation data (raises DatasetError before any training)."""
    data = Path(cfg.data)
    if cfg.val:
        train_ds = load_dataset(data, size=input_size, usage="Training" if _is_csv_with_usage(data) else None)
        val_ds = load_dataset(cfg.val, size=input_size, min_classes=1,
                              usage="PublicTest" if _is_csv_with_usage(cfg.val) else None)
    elif _is_csv_with_usage(data):
        train_ds = load_dataset(data, size=input_size, usage="Training")
        val_ds = load_dataset(data, size=input_size, usage="PublicTest", min_classes=1)
    else:
        train_ds, val_ds = split_validation(load_dataset(data, size=input_size), cfg.val_split, cfg.seed)
    if cfg.limit and cfg.limit < len(train_ds):
        train_ds = train_ds.subset(np.sort(np.random.default_rng(cfg.seed).permutation(len(train_ds))[:cfg.limit]))
    if cfg.soft_labels:
        train_ds.soft = ferplus_soft_labels(cfg.soft_labels, train_ds, cfg.soft_weight)
    if len(train_ds) < 2:
        raise TrainingError("The training set needs at least two faces.")
    return train_ds, val_ds


def _is_csv_with_usage(path: str | Path) -> bool:
    p = Path(path)
    if not (p.is_file() and p.suffix.lower() == ".csv"):
        return False
    with open(p, encoding="utf-8-sig") as fh:
        return "Usage" in fh.readline()


def training_targets(cfg: TrainConfig, ds: FaceDataset) -> np.ndarray:
    """(N, 14): label distributions, then the teacher's probabilities (zeros without a teacher)."""
    labels = ds.soft if ds.soft is not None else np.eye(len(EMOTIONS), dtype=np.float32)[ds.y]
    if cfg.teacher_models:
        return combine_targets(labels, np.full_like(labels, ONLINE_TEACHER_MARK))
    teacher = load_soft_targets(cfg.teacher, ds) if cfg.teacher else None
    return combine_targets(labels, teacher)


def _batches(ds: FaceDataset, targets: np.ndarray, batch_size: int, cfg: TrainConfig, weights: np.ndarray | None,
             start_epoch: int) -> Any:
    import keras

    seed = cfg.seed

    class FaceBatches(keras.utils.PyDataset):
        """Shuffled full batches of scaled faces, mixed by `--mix` (cheap NumPy on whole batches); the
        augmentation runs later, in the model, on the device."""

        def __init__(self) -> None:
            super().__init__()
            self.epoch = start_epoch
            self._shuffle()

        def _shuffle(self) -> None:
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(ds))

        def __len__(self) -> int:
            # Full batches only: a partial last batch crashes oneDNN's training kernels on the CPU (segfault
            # with 28709 % 128 = 37 faces); the faces left out change every epoch (reshuffled).
            return max(1, len(ds) // batch_size)

        def __getitem__(self, idx: int) -> tuple[np.ndarray, ...]:
            sel = self.order[idx * batch_size:(idx + 1) * batch_size]
            xb, tb = to_model_input(ds.x[sel]), targets[sel]
            plan = mix_plan(batch_rng(seed, self.epoch, idx), len(sel), xb.shape[1], cfg.mix, cfg.mix_alpha,
                            cfg.mix_prob)
            if plan is not None:
                xb, tb = plan.apply(xb, tb)
            if weights is not None:
                return xb, tb, weights[ds.y[sel]]
            return xb, tb

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self._shuffle()

    return FaceBatches()


# ------------------------------------------------------------------------------------------------ model
def block_boundaries(model: Any) -> list[int]:
    """Layer indices ending each block: the stem, then every residual module (its Add layer)."""
    import keras

    layers = model.layers
    first_module = next((i for i, layer in enumerate(layers)
                         if isinstance(layer, keras.layers.Conv2D) and tuple(layer.strides) == (2, 2)), None)
    bounds = [first_module - 1] if first_module else []
    bounds += [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Add)]
    return bounds


def freeze_blocks(model: Any, n: int) -> int:
    """Freeze the first `n` blocks (stem = block 1); returns how many layers were frozen."""
    if n <= 0:
        return 0
    bounds = block_boundaries(model)
    if n > len(bounds):
        raise TrainingError(f"--freeze-blocks {n} is more than the model's {len(bounds)} blocks.")
    last = bounds[n - 1]
    for layer in model.layers[: last + 1]:
        layer.trainable = False
    return last + 1


def resolve_input_size(cfg: TrainConfig) -> int:
    """The input size implied by the options, known without importing Keras."""
    from .architectures import DEFAULT_INPUT_SIZE

    if cfg.finetune:
        from .conversion import finetune_input_size

        size = finetune_input_size(cfg.finetune)
        if cfg.input_size and cfg.input_size != size:
            raise TrainingError(f"Model '{cfg.finetune}' takes {size}x{size} faces; --input-size "
                                f"{cfg.input_size} cannot be used to fine-tune it.")
        return size
    return cfg.input_size or DEFAULT_INPUT_SIZE


def build_model(cfg: TrainConfig, input_size: int, fused_batchnorm: bool = False) -> Any:
    """The network to train: built from `cfg.arch`, or a registry model's Keras weights to fine-tune."""
    from .architectures import build

    if cfg.finetune:
        from .conversion import load_network

        model = load_network(cfg.finetune, "fine-tune from")
        if int(model.input_shape[1]) != input_size or model.output_shape[-1] != len(EMOTIONS):
            raise TrainingError(f"Model '{cfg.finetune}' does not take {input_size}px faces to 7 emotions.")
    else:
        model = build(cfg.arch, input_size, len(EMOTIONS), dropout=cfg.dropout, fused_batchnorm=fused_batchnorm)
    freeze_blocks(model, cfg.freeze_blocks)
    return model


def _training_model(base: Any, cfg: TrainConfig) -> Any:
    """The deployable network behind the augmentation layer (which is active in training only).

    With online teachers (`--teacher-model`) the model outputs 14 columns: the student's probabilities, then the
    frozen teachers' on the same augmented faces (the loss and the accuracy metric read them apart).
    """
    import keras

    from .augmentation_layer import augmentation_layer
    from .distillation import online_teacher

    augment = augmentation_layer(cfg.augment, seed=cfg.seed)
    inp = keras.Input(base.input_shape[1:], name="face")
    faces = augment(inp) if augment is not None else inp
    out = base(faces)
    if cfg.teacher_models:
        teacher = online_teacher(cfg.teacher_models, int(base.input_shape[1]))
        out = keras.layers.Concatenate(dtype="float32", name="student_and_teacher")([out, teacher(faces)])
    return keras.Model(inp, out, name=f"{base.name}_training")


def _optimizer(cfg: TrainConfig) -> Any:
    import keras

    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)
    return keras.optimizers.AdamW(cfg.lr, weight_decay=cfg.weight_decay)


def _float32_copy(base: Any, cfg: TrainConfig, input_size: int) -> Any:
    """The kept network rebuilt in float32 with plain Keras layers, for saving and conversion.

    A mixed-precision build would convert to bfloat16 kernels, and the fused batch norm of torch training
    is a custom class; the rebuilt network has the same variables in the same order.
    """
    import keras

    from .fused_batchnorm import FusedBatchNormalization

    if all(layer.dtype_policy.name == "float32" and not isinstance(layer, FusedBatchNormalization)
           for layer in base.layers):
        return base
    from .architectures import build

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        model = build(cfg.arch, input_size, len(EMOTIONS), dropout=cfg.dropout)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    model.set_weights(base.get_weights())
    return model


# ------------------------------------------------------------------------------------------------ training
def train(cfg: TrainConfig, on_epoch_end: EpochCallback | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train, keep the best (or last) epoch, write the model folder; publish it where TensorFlow is present.

    `on_epoch_end(record, history)` is called after every epoch (record: epoch, loss, accuracy, val_loss,
    val_accuracy, lr, seconds); `should_stop()` is polled after every epoch to stop early on request.
    """
    t_start = time.time()
    cfg.validate()
    input_size = resolve_input_size(cfg)
    train_ds, val_ds = prepare_data(cfg, input_size)  # every data check happens here, before Keras loads
    targets = training_targets(cfg, train_ds)
    name = cfg.resolved_name()
    out_dir = Path(cfg.out) if cfg.out else MODELS_DIR / name
    ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else REPO_ROOT / "runs" / name
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if cfg.engine == "torch":
        try:
            from .torch_engine import train_native
        except ImportError:
            raise TrainingError("--engine torch needs PyTorch (pip install torch).") from None
        return train_native(cfg, train_ds, val_ds, targets, input_size, out_dir, ckpt_dir, t_start)

    backend = select_backend()
    if backend == "tensorflow":
        configure_tensorflow(input_size)
    import keras

    from . import augmentation_layer, distillation, fused_batchnorm  # noqa: F401  (custom objects, for loading)

    precision = set_precision(cfg.precision)
    hardware = accelerator() or "CPU"
    keras.utils.set_random_seed(cfg.seed)
    state_path = ckpt_dir / "state.json"
    state: dict[str, Any] = {"history": [], "best_val": -1.0, "best_epoch": 0, "planned_epochs": cfg.epochs,
                             "seconds": 0.0}
    if cfg.resume and state_path.exists() and (ckpt_dir / "last.keras").exists():
        state = json.loads(state_path.read_text())
        if cfg.epochs != state["config"]["epochs"]:
            state["planned_epochs"] = cfg.epochs  # asked for a different length: the schedule follows
        model = keras.models.load_model(str(ckpt_dir / "last.keras"))
        base = model.get_layer(state["base_name"])
        if cfg.verbose:
            print(f"resuming from epoch {len(state['history'])} (best validation accuracy {state['best_val']:.4f} "
                  f"at epoch {state['best_epoch']})", flush=True)
    else:
        base = build_model(cfg, input_size, fused_batchnorm=backend == "torch")
        model = _training_model(base, cfg)
        model.compile(optimizer=_optimizer(cfg), metrics=[distillation.accuracy_metric()],
                      loss=distillation.DistillationLoss(cfg.distill_weight if cfg.distils else 0.0,
                                                         cfg.temperature, cfg.label_smoothing))
    state["base_name"] = base.name
    history: list[dict[str, float]] = state["history"]
    start_epoch = len(history)
    average = WeightAverage(base, cfg.ema) if cfg.ema else None
    average_path = ckpt_dir / "average.npz"
    if average is not None and start_epoch and average_path.exists():
        average.load(average_path)
    params = base.count_params()
    batch_size = min(cfg.batch_size, len(train_ds))
    weights = class_weight_vector(train_ds.y) if cfg.class_weights else None
    batches = _batches(train_ds, targets, batch_size, cfg, weights, start_epoch)
    x_val = to_model_input(val_ds.x)
    y_val = combine_targets(np.eye(len(EMOTIONS), dtype=np.float32)[val_ds.y])  # no teacher: plain cross-entropy
    steps_to_go = (state["planned_epochs"] - start_epoch) * (len(batches) + math.ceil(len(val_ds) / batch_size))
    model.run_eagerly = steps_to_go <= EAGER_MAX_STEPS
    seconds_before = float(state.get("seconds", 0.0))
    stopped = {"early": False}

    class Driver(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.wait = len(history) - state["best_epoch"] if history else 0
            self.plateau_wait = 0
            self.t0 = self.last_end = time.time()
            self.recent: list[float] = []  # the last epochs' durations, for the time budget

        def elapsed(self) -> float:
            return seconds_before + time.time() - t_start

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.t0 = time.time()
            if cfg.schedule == "cosine":
                self.model.optimizer.learning_rate = lr_at(cfg, epoch, state["planned_epochs"])

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            record = {"epoch": epoch + 1, "loss": float(logs.get("loss", np.nan)),
                      "accuracy": float(logs.get("accuracy", np.nan)),
                      "val_loss": float(logs.get("val_loss", np.nan)),
                      "val_accuracy": float(logs.get("val_accuracy", np.nan)), "lr": lr,
                      "seconds": round(time.time() - self.t0, 2)}
            if average is not None:  # the averaged weights are what is validated and kept
                record |= validate_average(average, val_ds, record["val_accuracy"])
            history.append(record)
            improved = record["val_accuracy"] > state["best_val"]
            if improved:
                state["best_val"], state["best_epoch"] = record["val_accuracy"], epoch + 1
                self.wait = self.plateau_wait = 0
                if cfg.keep == "best":
                    with average.applied() if average is not None else nullcontext():
                        base.save(str(ckpt_dir / "best.keras"))
            else:
                self.wait += 1
                self.plateau_wait += 1
            if cfg.schedule == "plateau" and self.plateau_wait >= 3:
                self.model.optimizer.learning_rate = max(lr * 0.5, cfg.lr * 1e-3)
                self.plateau_wait = 0
            self.model.save(str(ckpt_dir / "last.keras"))
            if average is not None:
                average.save(average_path)
            epoch_seconds = time.time() - self.last_end  # training, validation and checkpoint together
            self.last_end = time.time()
            self._fit_budget(epoch, epoch_seconds)
            state["seconds"] = self.elapsed()
            state_path.write_text(json.dumps(state | {"config": asdict(cfg)}, indent=1))
            write_log(history, ckpt_dir / "training_log.csv")
            if cfg.verbose:
                print(f"epoch {epoch + 1}/{state['planned_epochs']}: loss {record['loss']:.4f} acc "
                      f"{record['accuracy']:.4f} val_loss {record['val_loss']:.4f} val_acc {record['val_accuracy']:.4f} "
                      f"lr {lr:.2e} {record['seconds']:.1f}s{raw_note(record)}{' *best*' if improved else ''}", flush=True)
            if on_epoch_end:
                on_epoch_end(record, history)
            done = epoch + 1 >= state["planned_epochs"]
            if (cfg.patience and self.wait >= cfg.patience) or (should_stop and should_stop()):
                stopped["early"] = True
            if done or stopped["early"]:
                self.model.stop_training = True

        def _fit_budget(self, epoch: int, epoch_seconds: float) -> None:
            self.recent = (self.recent + [epoch_seconds])[-3:]
            replan(cfg, state, epoch + 1, self.recent, self.elapsed())

    if start_epoch < state["planned_epochs"]:
        callbacks = [Driver()] + ([keras_callback(average)] if average is not None else [])
        model.fit(batches, validation_data=(x_val, y_val), epochs=cfg.epochs, initial_epoch=start_epoch,
                  callbacks=callbacks, verbose=1 if cfg.verbose and sys.stdout.isatty() else 0)
    seconds = seconds_before + time.time() - t_start

    if cfg.keep == "best" and (ckpt_dir / "best.keras").exists():
        kept_epoch = state["best_epoch"]
        kept = keras.models.load_model(str(ckpt_dir / "best.keras"), compile=False)
    else:
        kept_epoch, kept = len(history), base
        if average is not None:
            base.set_weights(average.values())
    final = _float32_copy(kept, cfg, input_size)
    for layer in final.layers:
        layer.trainable = True
    return save_run(cfg, final, RunSummary(history, state["best_epoch"], kept_epoch, seconds, params, backend,
                                           precision, hardware, stopped["early"]), input_size, train_ds, val_ds,
                    out_dir)


def validate_average(average: WeightAverage, val_ds: FaceDataset, raw_accuracy: float) -> dict[str, float]:
    """The averaged weights' validation figures, with the running weights' accuracy kept as `raw_val_accuracy`
    (so one run shows what the average is worth)."""
    with average.applied() as network:
        probs = predict(network, val_ds.x)
    return {"val_loss": float(-np.log(np.clip(probs[np.arange(len(val_ds)), val_ds.y], 1e-7, 1)).mean()),
            "val_accuracy": float((probs.argmax(1) == val_ds.y).mean()), "raw_val_accuracy": raw_accuracy}
