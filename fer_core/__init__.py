"""fer_core: facial expression recognition as a plain library (no Streamlit, no TensorFlow at run time).

    from fer_core import EmotionRecognizer, load_image
    faces = EmotionRecognizer().analyze(load_image("photo.jpg"))
    print([(face.label, round(face.confidence, 2)) for face in faces])
    print(faces_table(faces, source="photo.jpg"))      # the results table every output is made from
"""

__version__ = "0.11.0"  # the one place the version is written: pyproject.toml reads it (tool.hatch.version)

from .detectors import DEFAULT_DETECTOR, FaceDetector, available_detectors, create_detector, register_detector
from .emotions import COLORS_BGR, COLORS_HEX, DISPLAY_NAMES, EMOTIONS
from .errors import (
    DatasetError,
    FerError,
    InputNotFoundError,
    InvalidImageError,
    InvalidVideoError,
    ModelNotFoundError,
    UnsupportedInputError,
)
from .io import load_image
from .pipeline import EmotionRecognizer
from .models import ModelSpec, get_model, list_models
from .results import COLUMNS, Box, FaceResult, faces_table, summarize
from .results_csv import LiveResultsCsv
from .settings import REALTIME, THOROUGH, Settings

__all__ = [
    "Box", "FaceResult", "COLUMNS", "faces_table", "summarize", "LiveResultsCsv", "Settings", "REALTIME", "THOROUGH",
    "DEFAULT_DETECTOR", "FaceDetector", "available_detectors", "create_detector", "register_detector",
    "COLORS_BGR", "COLORS_HEX", "DISPLAY_NAMES", "EMOTIONS",
    "DatasetError", "FerError", "InputNotFoundError", "InvalidImageError", "InvalidVideoError",
    "ModelNotFoundError", "UnsupportedInputError",
    "load_image", "EmotionRecognizer", "ModelSpec", "get_model", "list_models", "__version__",
]
