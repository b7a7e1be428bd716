"""FER+ crowd votes for FER2013 faces: ten taggers per face, as vote shares over the seven classes.

FER+ (Barsoum et al. 2016) had every FER2013 face labelled again by ten people. Where a face of a labelled
set is a FER2013 image with votes, the evaluation table carries its vote shares (`votes_<class>`), so the
explorer can measure calibration against the crowd and find faces whose FER2013 label the crowd disputes.

The votes are looked up in a `ferplus_votes.csv` inside the set's folder (the bundled sample carries its
own, so tests and CI have them), then in the file named by `FER_VOTES_CSV`, then in `data/ferplus_votes_trainval.csv`
(which `make data` puts beside FER2013). Faces are matched by class folder and file name
(any case), as the training code matches them (`training.data.match_rows`): FER2013 reuses a few names
across class folders, and a face moved to another class folder is no longer the face the votes were for.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..emotions import EMOTIONS
from ..models import REPO_ROOT
from ..training.data import FERPLUS_TO_EMOTIONS

VOTE_COLUMNS: list[str] = [f"votes_{c}" for c in EMOTIONS]
"""Each face's share of the FER+ votes per class (contempt, unknown and not-a-face votes left out); NaN where
the face has no votes."""

LOCAL_VOTES_FILE = "ferplus_votes.csv"
DATA_VOTES = REPO_ROOT / "data" / "ferplus_votes_trainval.csv"
_VOTES_COLUMN = "votes_neutral_happiness_surprise_sadness_anger_disgust_fear_contempt"


def _key(path: str) -> str:
    """`PublicTest/angry/PublicTest_1.jpg` or `/any/where/angry/PublicTest_1.jpg` -> `angry/publictest_1.jpg`."""
    parts = path.replace("\\", "/").lower().rsplit("/", 2)
    return "/".join(parts[-2:])


@functools.lru_cache(maxsize=4)
def _read_votes(path: str, mtime: float) -> tuple[dict[str, int], np.ndarray]:
    """(class folder/file name -> row, vote shares (M, 7)) of the faces in one FER+ votes CSV that have any
    emotion vote."""
    table = pd.read_csv(path, usecols=["file", _VOTES_COLUMN], dtype=str)
    counts = np.array([row.split() for row in table[_VOTES_COLUMN]], dtype=np.float64)
    shares = np.zeros((len(table), len(EMOTIONS)))
    shares[:, list(FERPLUS_TO_EMOTIONS)] = counts[:, : len(FERPLUS_TO_EMOTIONS)]
    total = shares.sum(axis=1, keepdims=True)
    keep = total[:, 0] > 0
    rows = {_key(name): row for row, name in enumerate(table["file"][keep])}
    return rows, shares[keep] / total[keep]


def votes_files(root: Path) -> list[Path]:
    """The votes files consulted for a set under `root`, in order (those that exist)."""
    candidates = [Path(root) / LOCAL_VOTES_FILE]
    if os.environ.get("FER_VOTES_CSV"):
        candidates.append(Path(os.environ["FER_VOTES_CSV"]))
    candidates.append(DATA_VOTES)
    return [p for p in candidates if p.is_file()]


def vote_shares(paths: list[Path], root: Path) -> np.ndarray:
    """(N, 7) FER+ vote shares for the images at `paths` (NaN rows where a face has none)."""
    out = np.full((len(paths), len(EMOTIONS)), np.nan)
    keys = [_key(str(p)) for p in paths]
    missing = np.ones(len(paths), dtype=bool)
    for votes_path in votes_files(root):
        if not missing.any():
            break
        rows, shares = _read_votes(str(votes_path), votes_path.stat().st_mtime)
        for i in np.flatnonzero(missing):
            row = rows.get(keys[i])
            if row is not None:
                out[i] = shares[row]
                missing[i] = False
    return out
