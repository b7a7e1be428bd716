"""Provenance: what made a results table (model, role, temperature, detector, settings, tool version).

Why: a results file found on a disk a month later, or two tables compared side by side, must say which
model made them (and in which role: fast, accurate, best), with what calibration, detector and settings,
and by which version of this tool; otherwise "62 % happy" cannot be compared with anything. `provenance`
is the one place that dict is built; every writer stores that same dict (`results.export_bytes` and
`write_table`, `results_csv.LiveResultsCsv`, the batch store) and `results.read_table` gives it back as
`table.attrs["provenance"]` (`of_table`). How each format carries it: `results.export_bytes`.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import ModelSpec
    from .settings import Settings

from .results import PROVENANCE_ATTR as ATTRS_KEY
from .results import provenance_of as of_table
from .results import with_provenance as stamp

__all__ = ["ATTRS_KEY", "TOOL", "describe", "model_facts", "of_table", "provenance", "stamp"]
TOOL = "emotion-recognition-fer"
_RUN_SETTINGS = ("tta", "level_eyes", "detect_width", "retry_width", "detect_every", "smoothing")


def provenance(source: Any = None, settings: "Settings | None" = None, **run: Any) -> dict[str, Any]:
    """What made the results, as a JSON-ready dict.

    `source` is an `EmotionRecognizer` (its settings, its loaded model and its detector), a `Settings` (the
    model looked up by its name) or None (the defaults); `settings`, when given, are the settings the run
    used instead of the recognizer's (a video's own smoothing or detection step). `run` adds facts of the run that change the
    results besides the settings (a video's frame step `every=2`, a target `fps`); None values are left out.

    {"tool": "emotion-recognition-fer", "version": "0.11.0",
     "model": {"name", "title", "role" ("fast", "accurate", "best" or null), "default" (bool), "temperature",
               "accuracy", "accuracy_on" ("FER2013 PublicTest" or "own validation faces"), "members"},
     "detector": {"name", "params"}, "settings": {"tta", "level_eyes", "detect_width", ...}, "run": {...}}
    """
    from .settings import Settings

    # The package's __version__, read from the package already imported (it always is, before any of its
    # modules): importing it here would make fer_core -> results -> provenance -> fer_core a circle.
    __version__ = sys.modules[__package__].__version__

    settings = settings or getattr(source, "settings", None) or (source if isinstance(source, Settings) else Settings())
    spec = getattr(source, "model", None) if not isinstance(source, Settings) else None
    detector = getattr(source, "detector_name", None) or settings.detector
    data: dict[str, Any] = {
        "tool": TOOL,
        "version": __version__,
        "model": model_facts(spec if spec is not None else settings.model),
        "detector": {"name": detector, "params": dict(settings.detector_params)},
        "settings": {name: getattr(settings, name) for name in _RUN_SETTINGS},
    }
    facts = {k: v for k, v in run.items() if v is not None}
    if facts:
        data["run"] = facts
    return json.loads(json.dumps(data, default=_plain))  # as it reads back from a file: tuples are lists


def model_facts(model: "ModelSpec | str | None") -> dict[str, Any]:
    """The model part of `provenance`: a spec, or a name or alias looked up in the registry (a model no
    longer there keeps its name, with the rest unknown)."""
    from .errors import ModelNotFoundError
    from .models import aliases_of, get_model, primary_role

    if model is None or isinstance(model, str):
        try:
            model = get_model(model)
        except ModelNotFoundError:
            return {"name": model, "title": None, "role": None, "default": False}
    roles = aliases_of(model.name)
    return {
        "name": model.name,
        "title": model.title,
        "role": primary_role(model.name),
        "default": "default" in roles,
        "temperature": model.temperature,
        "accuracy": model.accuracy,
        "accuracy_on": "FER2013 PublicTest" if model.comparable else "own validation faces",
        **({"members": list(model.members)} if model.members else {}),
    }


def describe(data: dict[str, Any] | None) -> str:
    """One line for people, what the pages show under a result: "Made by the Fast (default) model,
    resnet_m_distilled_resnet18_150ep (calibrated, temperature 1.10), with the yunet detector, smoothing 5;
    emotion-recognition-fer 0.11.0." """
    if not data:
        return "What made these results is not recorded."
    from .models import role_title

    model = data.get("model") or {}
    role = role_title(model.get("role"), bool(model.get("default")))
    name = model.get("name") or "unknown"
    temperature = model.get("temperature")
    calibrated = ""
    if isinstance(temperature, (int, float)):
        calibrated = f", calibrated, temperature {temperature:.2f}" if temperature != 1 else ", not calibrated"
    settings = data.get("settings") or {}
    options = [f"smoothing {settings['smoothing']}"] if settings.get("smoothing") else []
    options += ["eyes levelled"] if settings.get("level_eyes") else []
    options += ["mirror TTA"] if settings.get("tta") else []
    options += [f"one frame in {data['run']['every']} analysed"] if (data.get("run") or {}).get("every", 1) != 1 else []
    detector = (data.get("detector") or {}).get("name") or "unknown"
    model_part = f"the {role} model, {name}" if role else f"the model {name}"
    return (f"Made by {model_part}{f' ({calibrated[2:]})' if calibrated else ''}, with the {detector} detector"
            f"{', ' + ', '.join(options) if options else ''}; {data.get('tool', TOOL)} {data.get('version', '?')}.")


def _plain(value: Any) -> Any:
    """json.dumps' fallback: numpy numbers as Python numbers, anything else as text."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)
