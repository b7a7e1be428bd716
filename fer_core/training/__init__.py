"""Training, distillation and conversion of emotion models (Keras; TensorFlow on a CPU, torch on a GPU).

    data.py                class folders / FER2013 CSV / FER+ votes / stored teacher targets, checked up front
    augmentation.py        augmentation presets; augmentation_layer.py applies them on the device, in the model
    architectures.py       Mini-XCEPTION and ResNets by name
    config.py              TrainConfig (a run as data) and the named recipes (`accurate`, `fast`)
    backend.py             the Keras backend, device and precision, chosen before Keras is imported
    distillation.py        the distillation loss and the export of a teacher's probabilities
    loop.py                train(): fit, checkpoint every epoch, resume, time budget, the kept model
    reports.py             accuracy per class, confusion, cost per face, training.json and the model card
    conversion.py          Keras -> TFLite registry folder (publish), float16 weights for carrying models home

The command line is `python -m fer_core.train` (training) and `python -m fer_core.convert` (conversion).
Nothing here imports Keras at package import: the backend is picked when training starts.
"""

from .config import RECIPES, TrainConfig, TrainingError
from .loop import TrainResult, lr_at, train

__all__ = ["RECIPES", "TrainConfig", "TrainingError", "TrainResult", "lr_at", "train"]
