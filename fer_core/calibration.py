"""Probabilities that mean what they say: temperature scaling and the measures of calibration.

A network trained with cross-entropy is usually over-confident: of the faces it calls "Happy 90 %", fewer
than 90 % are happy. Temperature scaling (Guo et al. 2017) divides the log-probabilities by one number T
fitted on held-out faces (T > 1 softens, T < 1 sharpens). It changes no argmax, so accuracy stays as it was,
and it costs nothing at run time. Each model's T lives in its `model.json` (`"temperature"`, 1.0 when absent)
and is applied in the classifier, so every page, export, chart and smoother gets the calibrated figures.

The measures:
- expected calibration error (ECE): the top probability's gap to the accuracy, in 15 equal-width bins of
  the top probability, weighted by the faces in each bin;
- negative log-likelihood (NLL): the mean of -log p(true class), which rewards both being right and being
  honest about doubt;
- against crowd votes (FER+): the same with each face's vote share of the predicted class in place of
  right (1) or wrong (0), and the cross-entropy to the vote distribution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_BINS = 15
_EPS = 1e-12


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log(p) / T), row by row: the same as dividing the logits by T."""
    p = np.asarray(probabilities, dtype=np.float64)
    if temperature == 1.0 or p.size == 0:
        return np.asarray(probabilities, dtype=np.float32)
    logits = np.log(np.clip(p, _EPS, 1.0)) / float(temperature)
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(np.float32)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true class)."""
    p = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], _EPS, 1.0))))


def cross_entropy(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy to target distributions (e.g. FER+ vote shares); equals the NLL for one-hot targets."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1.0)
    return float(-np.mean(np.sum(np.asarray(targets, dtype=np.float64) * np.log(p), axis=1)))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0) -> float:
    """The T that minimises the NLL of `apply_temperature(probabilities, T)` on these labelled faces.

    The NLL of softmax(z / T) is convex in 1/T, so a golden-section search over 1/T finds the minimum
    without an optimiser library; 60 steps narrow the interval below 1e-9 of its width.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0:
        raise ValueError("fitting a temperature needs at least one labelled face")
    logits = np.log(np.clip(p, _EPS, 1.0))

    def nll(inverse_t: float) -> float:
        z = logits * inverse_t
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))

    a, b = 1.0 / high, 1.0 / low
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(c), nll(d)
    for _ in range(60):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(d)
    return float(1.0 / ((a + b) / 2.0))


def _bin_index(confidence: np.ndarray, bins: int) -> np.ndarray:
    # Equal-width bins over [0, 1]; a confidence of exactly 1.0 falls in the last bin.
    return np.minimum((confidence * bins).astype(int), bins - 1)


def reliability(probabilities: np.ndarray, labels: np.ndarray | None = None, targets: np.ndarray | None = None,
                bins: int = DEFAULT_BINS) -> list[dict[str, float]]:
    """One row per bin of the top probability: its range, face count, mean confidence and mean accuracy.

    With `targets` (vote distributions) instead of `labels`, "accuracy" is the mean vote share of the
    predicted class: how often the crowd agreed with the answer.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    confidence = p.max(axis=1)
    predicted = p.argmax(axis=1)
    if targets is not None:
        hit = np.asarray(targets, dtype=np.float64)[np.arange(len(p)), predicted]
    elif labels is not None:
        hit = (predicted == np.asarray(labels, dtype=int)).astype(np.float64)
    else:
        raise ValueError("reliability needs labels or targets")
    index = _bin_index(confidence, bins)
    rows = []
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        rows.append({"low": b / bins, "high": (b + 1) / bins, "count": n,
                     "confidence": float(confidence[inside].mean()) if n else float("nan"),
                     "accuracy": float(hit[inside].mean()) if n else float("nan")})
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray | None = None,
                               targets: np.ndarray | None = None, bins: int = DEFAULT_BINS) -> float:
    """Sum over bins of |accuracy - confidence| x the bin's share of the faces."""
    rows = reliability(probabilities, labels=labels, targets=targets, bins=bins)
    total = sum(r["count"] for r in rows)
    if not total:
        return 0.0
    return float(sum(r["count"] / total * abs(r["accuracy"] - r["confidence"]) for r in rows if r["count"]))


@dataclass(frozen=True)
class CalibrationReport:
    """ECE and NLL before and after a temperature, on one labelled set (what a model card and --json show)."""

    temperature: float
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    n: int
    bins: int = DEFAULT_BINS

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def calibration_report(raw_probabilities: np.ndarray, labels: np.ndarray, temperature: float,
                       bins: int = DEFAULT_BINS) -> CalibrationReport:
    """Measure `temperature` on raw (uncalibrated) probabilities and their labels."""
    after = apply_temperature(raw_probabilities, temperature)
    return CalibrationReport(
        temperature=float(temperature),
        ece_before=expected_calibration_error(raw_probabilities, labels, bins=bins),
        ece_after=expected_calibration_error(after, labels, bins=bins),
        nll_before=negative_log_likelihood(raw_probabilities, labels),
        nll_after=negative_log_likelihood(after, labels),
        n=int(len(labels)), bins=bins,
    )
