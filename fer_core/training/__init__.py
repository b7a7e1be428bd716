"""Training, distillation and conversion of emotion models (Keras; TensorFlow on a CPU, torch on a GPU).

    data.py                class folders / FER2013 CSV / FER+ votes / stored teacher targets, checked up front
    augmentation.py        augmentation presets; augmentation_layer.py applies them on the device, in the model
    mixing.py              mixup and CutMix plans for a batch (the same in both engines)
    architectures.py       Mini-XCEPTION and ResNets by name
    config.py              TrainConfig (a run as data) and the named recipes (`accurate`, `fast`)
    backend.py             the Keras backend, device and precision, chosen before Keras is imported
    distillation.py        the distillation loss, online teachers, the export of a teacher's probabilities
    loop.py                train(): fit, checkpoint every epoch, resume, time budget, the kept model
    schedule.py            class weights, the learning rate, the epochs that fit a time budget (both engines)
    saving.py              what a finished run writes (model.keras, training.json, log) and returns (both engines)
    weight_average.py      `--ema`: a moving average of the weights, validated and kept instead of the last ones
    torch_engine.py        `--engine torch`: the ResNets trained in plain PyTorch on a GPU, saved through Keras
    reports.py             accuracy per class, confusion, cost per face, training.json and the model card
    conversion.py          Keras -> TFLite registry folder (publish; int8 or float16 weights), float16 weights
                           for carrying models home

The command line is `python -m fer_core.train` (training) and `python -m fer_core.convert` (conversion).
Importing the package picks the Keras backend (KERAS_BACKEND, else TensorFlow if installed, else torch) without
importing Keras, so every module below that imports Keras gets the right one, on a CPU or on a GPU machine.
"""

from .backend import select_backend

select_backend()

from .config import RECIPES, TrainConfig, TrainingError  # noqa: E402
from .loop import train  # noqa: E402
from .saving import TrainResult  # noqa: E402
from .schedule import lr_at  # noqa: E402

__all__ = ["RECIPES", "TrainConfig", "TrainingError", "TrainResult", "lr_at", "train"]
