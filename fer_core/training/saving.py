"""What a finished run writes and returns, whichever engine trained it (Keras in `loop.py`, PyTorch in
`torch_engine.py`, or a resumed job): the model folder with `model.keras`, training.json and the log. Kept below
the engines so each imports it and neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .data import FaceDataset
from .reports import TrainingRecord, accuracy_report, predict, write_log


@dataclass
class TrainResult:
    model_dir: Path
    name: str
    history: list[dict[str, float]]
    best_epoch: int
    metrics: dict[str, Any]
    seconds: float
    stopped_early: bool = False
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunSummary:
    """What a finished run reports, whichever engine trained it (Keras here, or torch_engine)."""

    history: list[dict[str, float]]
    best_epoch: int
    kept_epoch: int
    seconds: float
    params: int
    backend: str
    precision: str
    hardware: str
    stopped_early: bool = False


def save_run(cfg: TrainConfig, final: Any, run: RunSummary, input_size: int, train_ds: FaceDataset,
             val_ds: FaceDataset, out_dir: Path) -> TrainResult:
    """Write the kept float32 Keras network as `model.keras` with training.json and the log; publish it where
    TensorFlow is present."""
    name = cfg.resolved_name()
    title = cfg.title or (f"{Path(cfg.finetune).name} fine-tuned" if cfg.finetune else f"{cfg.arch} {input_size}px (trained here)")
    record = TrainingRecord(
        name=name, title=title, config=asdict(cfg), history=run.history, best_epoch=run.best_epoch,
        kept_epoch=run.kept_epoch, seconds=round(run.seconds, 1), params=run.params, input_size=input_size,
        backend=run.backend, precision=run.precision, hardware=run.hardware, train_faces=train_ds.class_counts(),
        val_faces=len(val_ds), stopped_early=run.stopped_early,
        metrics={"val": accuracy_report(val_ds.y, predict(final, val_ds.x)),
                 "val_tta": accuracy_report(val_ds.y, predict(final, val_ds.x, tta=True))})
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("model.keras", "model.tflite", "weights.f16.npz"):
        (out_dir / stale).unlink(missing_ok=True)
    final.save(str(out_dir / "model.keras"))
    record.save(out_dir)
    write_log(run.history, out_dir / "training_log.csv")
    metrics = dict(record.metrics)
    if run.backend == "tensorflow":
        from .conversion import publish

        metrics |= publish(out_dir, model=final)
    elif cfg.verbose:
        print("No TensorFlow here to convert to TFLite; on a machine with it run\n"
              f"  python -m fer_core.convert --publish {out_dir}", flush=True)
    return TrainResult(out_dir, name, run.history, run.best_epoch, metrics, run.seconds, run.stopped_early,
                       asdict(cfg))
