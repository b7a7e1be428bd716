"""The Model Explorer's state: which labelled set is open, its evaluation run, and the one selection that
every view hands to the gallery.

The evaluation itself is `fer_core.explore.evaluate_set` (one path for the page, the CLI and a notebook);
this module only keeps its result. Runs are shared by every session of this server (an LRU of a few, keyed
by model, test-time augmentation and set), and the library caches them on disk, so a set opened once
reopens instantly, also after a restart.

The selection model: a `Selection` is a named set of rows of the evaluation table kept in
`st.session_state[SELECTION_KEY]`. The confusion matrix, the embedding map, slices, model against model and
likely label errors all call `select(...)`; the gallery shows the selection's faces (under its own filters)
and says which selection it shows, with a way to clear it.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import streamlit as st

from fer_core.settings import Settings

SELECTION_KEY = "explorer_selection"
FACE_KEY = "explorer_face"  # the row shown up close, if any
SOURCE_KEY = "explorer_source"  # the SetSource on show (the bundled sample when absent)
RUN_KEY = "explorer_run_key"  # the run the selection belongs to
RUNS_KEPT = 6


@dataclass(frozen=True)
class SetSource:
    """Which labelled set the explorer shows: the bundled sample, an uploaded zip or a folder on the server.

    `ident` tells sets apart (the zip's SHA-1, the folder's resolved path); `path` is the folder to read (the
    unpacked zip's folder for an upload)."""

    kind: str  # "sample" | "zip" | "folder"
    name: str
    ident: str = ""
    path: str = ""
    detect: bool | None = None  # None: let the library decide (crops as they are, whole photos detected)

    @property
    def key(self) -> tuple:
        return (self.kind, self.ident or self.name, self.detect)


SAMPLE = SetSource("sample", "the bundled sample")


@dataclass(frozen=True)
class Selection:
    """A set of rows of the evaluation table that a view hands to the gallery, and what to call it."""

    label: str  # "true Sad, predicted Angry"
    rows: tuple[int, ...]  # positions in the evaluation table
    source: str  # the view that made it ("confusion", "map", ...)
    order: tuple[int, ...] = field(default=())  # rows in the view's own ranking, when it has one

    def mask(self, n: int) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        m[list(self.rows)] = True
        return m


# --- the selection ----------------------------------------------------------------------------------------

def select(label: str, rows: Any, source: str, ranked: bool = False) -> None:
    """Hand these rows to the gallery (replacing any earlier selection) and go back to its first page."""
    rows = tuple(int(r) for r in rows)
    st.session_state[SELECTION_KEY] = Selection(label, rows, source, order=rows if ranked else ())
    st.session_state["explorer_page"] = 1


def clear_selection() -> None:
    st.session_state.pop(SELECTION_KEY, None)
    st.session_state["explorer_page"] = 1


def follow_run(run_key: tuple) -> None:
    """A selection belongs to one run: another model or set (whose cells, clusters and slices differ) starts
    the gallery again from every face."""
    if st.session_state.get(RUN_KEY) != run_key:
        if RUN_KEY in st.session_state:
            clear_selection()
            st.session_state.pop(FACE_KEY, None)
        st.session_state[RUN_KEY] = run_key


def selection() -> Selection | None:
    value = st.session_state.get(SELECTION_KEY)
    return value if isinstance(value, Selection) else None


# --- runs -------------------------------------------------------------------------------------------------

class _Runs:
    """A small LRU of evaluation runs shared by every session (a run of PublicTest holds 3,589 crops and
    their features: a few tens of MB)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: tuple, run: Any) -> None:
        with self.lock:
            self.items[key] = run
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _runs() -> _Runs:
    return _Runs(RUNS_KEPT)


def labelled_set(source: SetSource) -> Any:
    """The library's `LabelledSet` for a source (raises `FerError` with one sentence for bad input)."""
    from fer_core import explore

    if source.kind == "sample":
        return explore.bundled_sample()
    return explore.open_folder(Path(source.path), name=source.name)


def _key(source: SetSource, settings: Settings) -> tuple:
    return (source.key, settings.key())


def cached_run(source: SetSource, settings: Settings) -> Any:
    """The run for (source, settings) if this server has it in memory, else None."""
    return _runs().get(_key(source, settings))


def evaluate(source: SetSource, settings: Settings, progress: Callable[[int, int], None] | None = None) -> Any:
    """The evaluation run of the settings' model (with their TTA, and their detector for whole photos) on the
    source's set: from memory, else from the library, which reads its disk cache (`FER_EXPLORE_CACHE`, else
    ~/.cache/fer_core/explore) or evaluates, calling `progress(done, total)`."""
    from fer_core import explore

    from .resources import recognizer

    run = cached_run(source, settings)
    if run is not None:
        return run
    kwargs: dict[str, Any] = {"progress": progress, "recognizer": recognizer(settings)}
    if source.detect is not None:
        kwargs["detect"] = source.detect
    run = explore.evaluate_set(labelled_set(source), settings.model, tta=settings.tta, **kwargs)
    _runs().put(_key(source, settings), run)
    return run


def unpack_zip(data: bytes, name: str) -> SetSource:
    """An uploaded labelled zip, unpacked (by the library's safe reader) into a folder that lives as long as
    this server; the same bytes unpack once."""
    from fer_core import explore

    digest = hashlib.sha1(data).hexdigest()[:16]
    workdir = Path(tempfile.gettempdir()) / "fer-explore-zips" / digest
    labelled = explore.open_zip(data, workdir, name=name)
    return SetSource("zip", labelled.name, ident=digest, path=str(labelled.root))


def folder_source(path_text: str) -> SetSource:
    """A folder on the server, allowed only under the configured roots (`dashboard.server_paths`)."""
    from fer_core import explore

    from .server_paths import resolve_allowed

    folder = resolve_allowed(path_text)
    labelled = explore.open_folder(folder)  # bad folders fail here, before anything is replaced
    return SetSource("folder", labelled.name or str(folder), ident=str(folder), path=str(folder))


def table_of(run: Any) -> pd.DataFrame:
    """The run's evaluation table with positions as its index (selections are positions)."""
    table = run.table
    if not isinstance(table.index, pd.RangeIndex) or table.index.start != 0:
        table = table.reset_index(drop=True)
    return table


# --- faces ------------------------------------------------------------------------------------------------

def model_input(face: np.ndarray, size: int) -> np.ndarray:
    """A grey uint8 face of any size -> (size, size, 1) in [-1, 1], exactly as the pipeline prepares crops."""
    from fer_core.preprocess import prepare_face

    return prepare_face(face, size)


@st.cache_data(show_spinner=False, max_entries=256)
def saliency_map(model: str | None, tta: bool, face: np.ndarray, target: int, stride: int = 2) -> np.ndarray:
    """Occlusion map of one face (cached: moving a playground slider does not recompute it)."""
    from fer_core.saliency import occlusion_saliency

    from .resources import classifier_for

    classifier = classifier_for(model, tta)
    return occlusion_saliency(model_input(face, classifier.input_size), classifier.predict, target, patch=8,
                              stride=stride)


def probabilities_under_every_model(face: np.ndarray, tta: bool) -> pd.DataFrame:
    """The face's calibrated probabilities under every registry model: one row per model, one column per
    class, plus its label and confidence."""
    from fer_core.models import list_models

    from .resources import classifier_for

    rows = []
    for spec in list_models():
        try:
            classifier = classifier_for(spec.name, tta)
        except Exception:  # noqa: BLE001 - a model whose weights are missing is left out, not fatal
            continue
        probs = classifier.predict(model_input(face, classifier.input_size)[None])[0]
        row = {"model": spec.name, **{c: float(p) for c, p in zip(classifier.classes, probs)}}
        row["label"] = classifier.classes[int(np.argmax(probs))]
        row["confidence"] = float(np.max(probs))
        rows.append(row)
    return pd.DataFrame(rows)


def model_comparison() -> pd.DataFrame:
    """Every registry model with its role, recorded PublicTest accuracy and cost per face, side by side.

    Models go by their short titles (the picker's), so the table fits its card; the cards hold the long ones."""
    from fer_core.models import aliases_of, list_models

    rows = [{"model": s.short_title or s.name, "aliases": ", ".join(aliases_of(s.name)), "PublicTest": s.accuracy,
             "with mirror TTA": s.metrics.get("val_accuracy_tta"), "ms per face": s.ms_per_face, "name": s.name}
            for s in list_models()]
    return pd.DataFrame(rows)


def thumbnail(run: Any, row: int, found: bool) -> np.ndarray:
    """What the gallery shows for a row: the face the model saw, or, for a photo with no face found, the
    photo itself (small), read from the set's folder."""
    if found:
        return run.crops[row]
    import cv2

    image = cv2.imread(str(Path(run.settings.get("root", ".")) / str(run.table["file"].iloc[row])),
                       cv2.IMREAD_GRAYSCALE)
    if image is None:
        return run.crops[row]
    scale = 160 / max(image.shape)
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
