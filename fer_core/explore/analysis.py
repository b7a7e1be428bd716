"""Views of the evaluation table: confusion, per-class figures, calibration, model against model, slices,
likely label errors. Each takes the table (or an `EvaluationRun`) and returns a DataFrame or a small
dataclass, so the dashboard, the CLI and a notebook show the same figures. Rows without a face
(`face_found` False) are left out of every figure.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..calibration import DEFAULT_BINS, cross_entropy, expected_calibration_error, negative_log_likelihood, reliability
from ..emotions import EMOTIONS
from .table import PROB_COLUMNS, RAW_PROB_COLUMNS, EvaluationRun
from .votes import VOTE_COLUMNS

def _faces(table: pd.DataFrame | EvaluationRun) -> pd.DataFrame:
    frame = table.table if isinstance(table, EvaluationRun) else table
    return frame[frame["face_found"].astype(bool)]


def _labels(faces: pd.DataFrame) -> np.ndarray:
    return faces["true_label"].map({c: i for i, c in enumerate(EMOTIONS)}).to_numpy(dtype=int)


def confusion(table: pd.DataFrame | EvaluationRun, normalize: bool = False) -> pd.DataFrame:
    """Counts of true class (rows) against predicted class (columns), all seven classes in EMOTIONS order.

    `normalize=True` divides each row by its count (recall on the diagonal; a class with no faces stays 0).
    """
    faces = _faces(table)
    matrix = pd.crosstab(pd.Categorical(faces["true_label"], categories=EMOTIONS),
                         pd.Categorical(faces["predicted"], categories=EMOTIONS), dropna=False)
    matrix = matrix.reindex(index=list(EMOTIONS), columns=list(EMOTIONS), fill_value=0).astype(int)
    matrix.index.name, matrix.columns.name = "true", "predicted"
    if normalize:
        totals = matrix.sum(axis=1).replace(0, 1)
        return matrix.div(totals, axis=0)
    return matrix


def per_class(table: pd.DataFrame | EvaluationRun) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (index: EMOTIONS), as `python -m fer_core.evaluate` reports."""
    matrix = confusion(table).to_numpy()
    tp = np.diag(matrix).astype(float)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support.astype(int)},
                        index=pd.Index(list(EMOTIONS), name="class"))


def macro_recall(table: pd.DataFrame | EvaluationRun) -> float:
    """The mean recall over the classes that have faces (a set without fear faces is not marked down for it)."""
    rows = per_class(table)
    present = rows[rows["support"] > 0]
    return float(present["recall"].mean()) if len(present) else float("nan")


@dataclass
class Calibration:
    """Calibration of a model on a set, before (raw outputs) and after its temperature (calibrated).

    `reliability` has one row per bin of the top probability and per `version` ("raw", "calibrated", and
    "votes" where FER+ votes exist: the mean vote share of the predicted class in place of right or wrong).
    """

    n: int
    bins: int
    ece_raw: float
    ece: float
    nll_raw: float
    nll: float
    reliability: pd.DataFrame
    votes_n: int = 0
    ece_votes: float | None = None
    cross_entropy_votes: float | None = None
    cross_entropy_votes_raw: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("reliability")
        return {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in data.items()}


def calibration(run_or_table: pd.DataFrame | EvaluationRun, bins: int = DEFAULT_BINS) -> Calibration:
    """Reliability rows, ECE and NLL before and after the temperature, and against FER+ votes where present."""
    faces = _faces(run_or_table)
    labels = _labels(faces)
    cal = faces[PROB_COLUMNS].to_numpy(dtype=np.float64)
    raw = faces[RAW_PROB_COLUMNS].to_numpy(dtype=np.float64)
    parts = []
    for version, p in (("raw", raw), ("calibrated", cal)):
        rows = pd.DataFrame(reliability(p, labels, bins=bins)) if len(p) else pd.DataFrame()
        rows["version"] = version
        parts.append(rows)
    votes = faces[VOTE_COLUMNS].to_numpy(dtype=np.float64) if set(VOTE_COLUMNS) <= set(faces.columns) else None
    with_votes = np.isfinite(votes).all(axis=1) if votes is not None else np.zeros(len(faces), dtype=bool)
    result_votes: dict[str, Any] = {"votes_n": int(with_votes.sum())}
    if with_votes.any():
        targets = votes[with_votes]
        rows = pd.DataFrame(reliability(cal[with_votes], targets=targets, bins=bins))
        rows["version"] = "votes"
        parts.append(rows)
        result_votes |= {"ece_votes": expected_calibration_error(cal[with_votes], targets=targets, bins=bins),
                         "cross_entropy_votes": cross_entropy(cal[with_votes], targets),
                         "cross_entropy_votes_raw": cross_entropy(raw[with_votes], targets)}
    empty = len(faces) == 0
    return Calibration(
        n=len(faces), bins=bins,
        ece_raw=float("nan") if empty else expected_calibration_error(raw, labels, bins=bins),
        ece=float("nan") if empty else expected_calibration_error(cal, labels, bins=bins),
        nll_raw=float("nan") if empty else negative_log_likelihood(raw, labels),
        nll=float("nan") if empty else negative_log_likelihood(cal, labels),
        reliability=pd.concat(parts, ignore_index=True), **result_votes,
    )


def mcnemar_p(b: int, c: int, exact: bool = True) -> float:
    """Two-sided p-value of McNemar's test from the discordant counts: `b` faces only the first model got
    right, `c` only the second. Exact (binomial with p = 1/2: twice the smaller tail, in whole numbers, so
    it stays exact for thousands of faces); `exact=False` gives the chi-square with one degree of freedom
    and Edwards' continuity correction, the textbook approximation."""
    n = b + c
    if n == 0:
        return 1.0
    if exact:
        tail, term = 0, 1  # term = comb(n, k), updated in whole numbers
        for k in range(min(b, c) + 1):
            tail += term
            term = term * (n - k) // (k + 1)
        tail /= 2**n
        return float(min(1.0, 2 * tail))
    statistic = (abs(b - c) - 1) ** 2 / n
    return float(math.erfc(math.sqrt(statistic / 2)))  # the chi-square(1) survival function


@dataclass
class Comparison:
    """Two models on the same faces (matched by `file`)."""

    model_a: str
    model_b: str
    n: int
    agreement: float
    accuracy_a: float
    accuracy_b: float
    only_a_right: int
    only_b_right: int
    mcnemar_p: float
    per_class: pd.DataFrame
    """Recall of each model per class, side by side (columns recall_a, recall_b, support)."""
    disagreements: pd.DataFrame
    """The faces where the predictions differ: file, true_label, predicted_a/b, confidence_a/b, correct_a/b."""

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("per_class", "disagreements")}
        data["per_class_recall"] = {c: {"a": round(float(r.recall_a), 4), "b": round(float(r.recall_b), 4),
                                        "support": int(r.support)} for c, r in self.per_class.iterrows()}
        data["disagreement_files"] = list(self.disagreements["file"])
        rounded = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in data.items()}
        rounded["mcnemar_p"] = float(f"{self.mcnemar_p:.4g}")  # a small p keeps its digits, not 0.0
        return rounded


def compare(table_a: pd.DataFrame | EvaluationRun, table_b: pd.DataFrame | EvaluationRun,
            model_a: str | None = None, model_b: str | None = None) -> Comparison:
    """Agreement, each accuracy, McNemar's p-value of the difference, per-class recall and disagreements, on the
    faces both tables have (with a face found in both)."""
    name_a = model_a or (table_a.model if isinstance(table_a, EvaluationRun) else "a")
    name_b = model_b or (table_b.model if isinstance(table_b, EvaluationRun) else "b")
    a, b = _faces(table_a), _faces(table_b)
    columns = ["file", "true_label", "predicted", "confidence", "correct"]
    both = a[columns].merge(b[columns], on=["file", "true_label"], suffixes=("_a", "_b"))
    correct_a, correct_b = both["correct_a"].to_numpy(bool), both["correct_b"].to_numpy(bool)
    only_a, only_b = int((correct_a & ~correct_b).sum()), int((~correct_a & correct_b).sum())
    n = len(both)
    recall_a = per_class(a[a["file"].isin(both["file"])])["recall"]
    recall_b = per_class(b[b["file"].isin(both["file"])])["recall"]
    support = both["true_label"].value_counts().reindex(list(EMOTIONS), fill_value=0)
    side = pd.DataFrame({"recall_a": recall_a, "recall_b": recall_b, "support": support.astype(int)})
    side.index.name = "class"
    differ = both[both["predicted_a"] != both["predicted_b"]].reset_index(drop=True)
    return Comparison(
        model_a=name_a, model_b=name_b, n=n,
        agreement=float((both["predicted_a"] == both["predicted_b"]).mean()) if n else float("nan"),
        accuracy_a=float(correct_a.mean()) if n else float("nan"),
        accuracy_b=float(correct_b.mean()) if n else float("nan"),
        only_a_right=only_a, only_b_right=only_b, mcnemar_p=mcnemar_p(only_a, only_b),
        per_class=side, disagreements=differ,
    )


def wilson_interval(successes: np.ndarray | int, n: np.ndarray | int, z: float = 1.959964) -> tuple[Any, Any]:
    """The Wilson score interval of a proportion (95 % by default): honest for small slices and 0 or 100 %."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    safe = np.maximum(n, 1)
    p = successes / safe
    denominator = 1 + z**2 / safe
    centre = (p + z**2 / (2 * safe)) / denominator
    half = z * np.sqrt(p * (1 - p) / safe + z**2 / (4 * safe**2)) / denominator
    low, high = np.where(n > 0, centre - half, 0.0), np.where(n > 0, centre + half, 1.0)
    return np.clip(low, 0, 1), np.clip(high, 0, 1)


SLICE_FACTS: dict[str, str] = {
    "face_px": "face size (px)", "brightness": "brightness", "contrast": "contrast", "blur": "blur",
    "roll": "head roll (deg)", "yaw": "head yaw (deg)", "detector_score": "detector score",
}
"""The numeric facts `slices` cuts into quantile bins, and what they are called."""


def _slice_keys(faces: pd.DataFrame, by: str, bins: int) -> pd.Series:
    if by in SLICE_FACTS:
        values = faces[by].abs() if by in ("roll", "yaw") else faces[by]
        if values.notna().sum() == 0:
            return pd.Series(pd.NA, index=faces.index, dtype="object")
        ranked = pd.qcut(values, q=bins, duplicates="drop")
        label = f"|{by}|" if by in ("roll", "yaw") else by
        return ranked.map(lambda iv: f"{label} {iv.left:.4g}-{iv.right:.4g}" if pd.notna(iv) else pd.NA).astype("object")
    return faces[by].astype("object").map(lambda v: f"{by} = {v}")


def slices(table: pd.DataFrame | EvaluationRun, by: str | Sequence[str] = ("face_px", "brightness", "contrast",
           "blur", "roll", "yaw", "set", "true_label"), bins: int = 4, min_count: int = 1) -> pd.DataFrame:
    """Accuracy and face count per slice, with its 95 % Wilson interval, worst slice first (the larger first
    among equals: a small slice's accuracy is the less certain; `low` and `high` say how much).

    Numeric facts (`SLICE_FACTS`) are cut into `bins` quantile bins (roll and yaw by their size); any other
    column (`set`, `true_label`, `predicted`, ...) slices by value. A column that gives a single slice (pose on
    crops: NaN throughout; `set` for one set; face size when every crop is 48 pixels) is left out: that slice
    would be the whole table. Columns: by, slice, n, correct, accuracy, low, high, and `gap`: the slice's
    accuracy minus the whole set's.
    """
    faces = _faces(table)
    overall = float(faces["correct"].mean()) if len(faces) else float("nan")
    names = [by] if isinstance(by, str) else list(by)
    parts = []
    for name in names:
        if name not in faces.columns:
            raise KeyError(f"the evaluation table has no column {name!r}")
        keys = _slice_keys(faces, name, bins)
        grouped = faces["correct"].astype(int).groupby(keys.to_numpy(), dropna=True, sort=False).agg(["sum", "count"])
        if len(grouped) < 2:
            continue
        for key, row in grouped.iterrows():
            parts.append({"by": name, "slice": str(key), "n": int(row["count"]), "correct": int(row["sum"])})
    frame = pd.DataFrame(parts, columns=["by", "slice", "n", "correct"])
    frame = frame[frame["n"] >= min_count].copy()
    frame["accuracy"] = frame["correct"] / frame["n"].clip(lower=1)
    low, high = wilson_interval(frame["correct"].to_numpy(), frame["n"].to_numpy())
    frame["low"], frame["high"] = low, high
    frame["gap"] = frame["accuracy"] - overall
    return frame.sort_values(["accuracy", "n"], ascending=[True, False]).reset_index(drop=True)


def slice_mask(table: pd.DataFrame | EvaluationRun, by: str, slice_name: str, bins: int = 4) -> pd.Series:
    """Which rows of the table (face_found rows only can be True) belong to a slice `slices` named."""
    frame = table.table if isinstance(table, EvaluationRun) else table
    faces = _faces(frame)
    keys = _slice_keys(faces, by, bins)
    return pd.Series(False, index=frame.index) | (keys == slice_name).reindex(frame.index, fill_value=False)


def likely_label_errors(table: pd.DataFrame | EvaluationRun, min_confidence: float = 0.5, limit: int | None = None) -> pd.DataFrame:
    """Faces the model is confidently wrong about, most suspicious first: candidates for a wrong label.

    `score` is the model's probability of its answer minus its probability of the given label (confident
    learning's margin). Where FER+ votes exist, `votes_for_label` is the taggers' share for the FER2013 label
    and `votes_for_predicted` their share for the model's answer; faces where the crowd sided with the model
    (`crowd_disagrees`: the label got less of the vote than the answer) rank first, then by score.
    """
    faces = _faces(table)
    wrong = faces[~faces["correct"].astype(bool) & (faces["confidence"] >= min_confidence)].copy()
    if wrong.empty:
        return wrong.assign(score=pd.Series(dtype=float), votes_for_label=pd.Series(dtype=float),
                            votes_for_predicted=pd.Series(dtype=float), crowd_disagrees=pd.Series(dtype=bool))
    label_p = np.array([wrong.at[i, f"p_{lab}"] for i, lab in zip(wrong.index, wrong["true_label"])])
    wrong["score"] = wrong["confidence"].to_numpy() - label_p
    if set(VOTE_COLUMNS) <= set(wrong.columns):
        wrong["votes_for_label"] = [wrong.at[i, f"votes_{lab}"] for i, lab in zip(wrong.index, wrong["true_label"])]
        wrong["votes_for_predicted"] = [wrong.at[i, f"votes_{p}"] for i, p in zip(wrong.index, wrong["predicted"])]
    else:
        wrong["votes_for_label"] = wrong["votes_for_predicted"] = np.nan
    wrong["crowd_disagrees"] = (wrong["votes_for_predicted"] > wrong["votes_for_label"]).fillna(False).astype(bool)
    ranked = wrong.sort_values(["crowd_disagrees", "score"], ascending=[False, False])
    return ranked.head(limit) if limit else ranked


EMBED_METHODS = ("pca", "tsne")
"""`pca`: instant, global structure. `tsne`: openTSNE's FFT-accelerated t-SNE, local neighbourhoods (clusters of
similar faces): 3,589 faces in about 7 CPU-seconds with `TSNE_ITERATIONS` (openTSNE's default schedule took 13,
and a second thread only added contention on a busy 2-core machine). UMAP was tried and left out:
umap-learn imports TensorFlow when it is installed (18 s before the first point) and compiles with numba on
first use."""


TSNE_ITERATIONS = (125, 250)
"""Early-exaggeration and then normal iterations: half openTSNE's default (250, 500). The clusters have formed
by then on face features; the rest only spreads them a little more."""


def embed_2d(features: np.ndarray, method: str = "pca", seed: int = 0, n_jobs: int = 1) -> np.ndarray:
    """(N, D) features -> (N, 2) map coordinates; rows with NaN features (no face) come back NaN.

    The features are standardised (no single channel dominates) and reduced to their first 50 principal
    components (scikit-learn); `pca` returns the first two, `tsne` runs openTSNE on the 50, initialised from
    them, with a fixed seed, so the same features give the same map.
    """
    if method not in EMBED_METHODS:
        raise ValueError(f"unknown embedding method {method!r}; choose one of {', '.join(EMBED_METHODS)}")
    features = np.asarray(features, dtype=np.float64)
    out = np.full((len(features), 2), np.nan)
    valid = np.isfinite(features).all(axis=1) if features.ndim == 2 and features.shape[1] else \
        np.zeros(len(features), dtype=bool)
    x = features[valid]
    if len(x) < 3 or x.shape[1] < 2:
        if len(x):
            out[valid] = 0.0
        return out
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    from sklearn.decomposition import PCA

    components = min(50, x.shape[1], len(x))
    reduced = PCA(n_components=components, random_state=seed).fit_transform(x)
    if method == "pca" or len(x) < 8:
        out[valid] = reduced[:, :2]
        return out
    from openTSNE import TSNE

    perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3)))
    start = reduced[:, :2] / np.std(reduced[:, 0]) * 1e-4  # openTSNE's recommended scale for a given start
    early, normal = TSNE_ITERATIONS
    out[valid] = np.asarray(TSNE(n_components=2, perplexity=perplexity, initialization=start, random_state=seed,
                                 n_jobs=n_jobs, early_exaggeration_iter=early, n_iter=normal).fit(reduced))
    return out
