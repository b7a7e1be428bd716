"""The Model Explorer's library: evaluate a model on a labelled set, one table per run, and its views.

    from fer_core.explore import bundled_sample, evaluate_set, confusion, calibration, compare, slices
    run = evaluate_set(bundled_sample(), "fast")      # cached on disk per (model, set content, settings)
    confusion(run.table); calibration(run).ece; slices(run.table).head()

    sets.py      LabelledSet: a folder or zip of class folders (crops or whole photos), the bundled sample
    table.py     evaluate_set -> EvaluationRun (the table FACE_COLUMNS, crops, features), write_table
    features.py  the model's penultimate features, read from its own TFLite file
    facts.py     per-face facts for slicing (brightness, contrast, blur, size, roll, yaw)
    votes.py     FER+ vote shares for FER2013 faces
    analysis.py  confusion, per_class, calibration, compare (McNemar), slices (Wilson), likely_label_errors,
                 embed_2d

No Streamlit here: the dashboard's Model Explorer, `python -m fer_core.evaluate --faces/--compare` and
examples/explore_a_model.ipynb all call these functions.
"""

from .analysis import (
    EMBED_METHODS,
    SLICE_FACTS,
    Calibration,
    Comparison,
    calibration,
    compare,
    confusion,
    embed_2d,
    likely_label_errors,
    macro_recall,
    mcnemar_p,
    per_class,
    slice_mask,
    slices,
    wilson_interval,
)
from .facts import FACT_COLUMNS
from .sets import BUNDLED_SAMPLE, LabelledItem, LabelledSet, bundled_sample, looks_like_crops, open_folder, open_zip
from .table import (
    FACE_COLUMNS,
    PROB_COLUMNS,
    RAW_PROB_COLUMNS,
    EvaluationRun,
    default_cache_dir,
    evaluate_set,
    read_table,
    write_table,
)
from .votes import VOTE_COLUMNS

__all__ = [
    "BUNDLED_SAMPLE", "LabelledItem", "LabelledSet", "bundled_sample", "looks_like_crops", "open_folder", "open_zip",
    "FACE_COLUMNS", "PROB_COLUMNS", "RAW_PROB_COLUMNS", "FACT_COLUMNS", "VOTE_COLUMNS", "EvaluationRun",
    "default_cache_dir", "evaluate_set", "read_table", "write_table",
    "EMBED_METHODS", "SLICE_FACTS", "Calibration", "Comparison", "calibration", "compare", "confusion", "embed_2d",
    "likely_label_errors", "macro_recall", "mcnemar_p", "per_class", "slice_mask", "slices", "wilson_interval",
]
