"""Fit each model's temperature on labelled face crops and write it into its `model.json` and card.

    python -m fer_core.training.calibrate fast accurate best --data data/PublicTest
    python -m fer_core.training.calibrate --all --data data/PublicTest

A temperature is fitted on the network's raw probabilities by minimising the negative log-likelihood
(`fer_core.calibration.fit_temperature`). An ensemble is fitted after its members: it averages their
calibrated probabilities, then gets a temperature of its own, so its members are (re)fitted first. The card
gains a "Calibration" section: ECE (15 bins) and NLL before and after, and the reliability table, so a user can
see what "90 %" meant before and means now. Accuracy is unchanged by a temperature, so nothing else moves.

Shipped models are fitted on FER2013 PublicTest, the set every model is selected on; the same faces measure
the result, which flatters a one-parameter fit by very little (one number cannot memorise 3,589 faces).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from ..calibration import DEFAULT_BINS, apply_temperature, calibration_report, fit_temperature, reliability
from ..classifier import EmotionClassifier
from ..errors import FerError
from ..evaluate import labelled_images
from ..io import load_image
from ..models import SPEC_FILE, ModelSpec, get_model, list_models, load_spec
from ..preprocess import prepare_face, to_gray

SECTION = "## Calibration"


def labelled_faces(data_dir: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every crop of a class-folder set prepared at `size`, and its class index."""
    faces, labels = [], []
    for path, label in labelled_images(data_dir):
        faces.append(prepare_face(to_gray(load_image(path)), size))
        labels.append(label)
    return np.stack(faces), np.array(labels, dtype=int)


def raw_probabilities(spec: ModelSpec, faces_by_size: dict[int, np.ndarray], tta: bool = False) -> np.ndarray:
    """The network's own (uncalibrated) probabilities for the faces, in batches (mirror TTA if asked)."""
    clf = EmotionClassifier(spec, tta=tta, num_threads=2)
    faces = faces_by_size[spec.input_size]
    return np.concatenate([clf.predict(faces[i:i + 512], calibrated=False) for i in range(0, len(faces), 512)])


def write_temperature(spec: ModelSpec, temperature: float, temperature_tta: float, report: dict,
                      data_dir: Path) -> ModelSpec:
    path = spec.directory / SPEC_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["temperature"] = round(float(temperature), 4)
    data["temperature_tta"] = round(float(temperature_tta), 4)
    data.setdefault("metrics", {})["calibration"] = report | {"data": str(data_dir)}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return load_spec(spec.directory)


def card_section(report: dict, before: list[dict], after: list[dict], data_dir: Path, ensemble: bool) -> str:
    """The card's Calibration section: the figures and a reliability table before and after."""
    how = ("its members' raw probabilities are averaged, then divided by this temperature (averaging members "
           "calibrated one by one measured worse: see the resnet_ensemble card)"
           if ensemble else "the log-probabilities are divided by it before any page, export or chart sees them")
    lines = [
        SECTION, "",
        f"Temperature **{report['temperature']:.3f}** ({report['temperature_tta']:.3f} with mirror TTA), fitted on "
        f"`{data_dir}` ({report['n']:,} faces) by minimising the negative log-likelihood; {how}. A temperature "
        "changes no prediction, so accuracy is as above.",
        "",
        "| | ECE (15 bins) | NLL |", "| --- | --- | --- |",
        f"| before | {report['ece_before']:.4f} | {report['nll_before']:.4f} |",
        f"| after | {report['ece_after']:.4f} | {report['nll_after']:.4f} |",
        "",
        "Reliability (faces by top probability; accuracy is the share of them that were right):", "",
        "| top probability | faces before | accuracy before | faces after | accuracy after |",
        "| --- | --- | --- | --- | --- |",
    ]
    for b, a in zip(before, after):
        if not b["count"] and not a["count"]:
            continue
        acc_b = f"{b['accuracy']:.0%}" if b["count"] else "-"
        acc_a = f"{a['accuracy']:.0%}" if a["count"] else "-"
        lines.append(f"| {b['low']:.0%}-{b['high']:.0%} | {b['count']} | {acc_b} | {a['count']} | {acc_a} |")
    lines.append("")
    lines.append(f"Command: `python -m fer_core.training.calibrate {report['model']} --data {data_dir}`")
    return "\n".join(lines) + "\n"


def write_card_section(spec: ModelSpec, section: str) -> None:
    card = spec.card()
    if not card:
        return
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    card = pattern.sub(lambda _: section + "\n", card) if pattern.search(card) else card.rstrip() + "\n\n" + section
    spec.card_path.write_text(card.rstrip() + "\n", encoding="utf-8")


def calibrate(names: list[str], data_dir: Path, bins: int = DEFAULT_BINS) -> list[dict]:
    """Fit and record the temperatures (plain and mirror TTA) of every model named."""
    specs = [get_model(n) for n in names]
    networks = {m.name: m for s in specs for m in ([get_model(x) for x in s.members] if s.is_ensemble else [s])}
    faces, labels = {}, np.zeros(0, dtype=int)
    for size in sorted({s.input_size for s in networks.values()}):
        faces[size], labels = labelled_faces(data_dir, size)
    raw = {(n, tta): raw_probabilities(s, faces, tta) for n, s in networks.items() for tta in (False, True)}
    reports = []
    for spec in specs:
        members = spec.members if spec.is_ensemble else (spec.name,)
        plain, mirrored = (np.mean([raw[(m, tta)] for m in members], axis=0) for tta in (False, True))
        temperature, temperature_tta = fit_temperature(plain, labels), fit_temperature(mirrored, labels)
        report = calibration_report(plain, labels, temperature, bins=bins).to_dict()
        report["temperature_tta"] = round(temperature_tta, 4)
        spec = write_temperature(spec, temperature, temperature_tta, report, data_dir)
        after = apply_temperature(plain, temperature)
        write_card_section(spec, card_section(report | {"model": spec.name}, reliability(plain, labels, bins=bins),
                                              reliability(after, labels, bins=bins), data_dir, spec.is_ensemble))
        reports.append(report | {"model": spec.name})
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_core.training.calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="model names or aliases")
    parser.add_argument("--all", action="store_true", help="every model in models/")
    parser.add_argument("--data", type=Path, required=True, help="labelled face crops in class folders")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    names = [s.name for s in list_models() if s.directory.parent.name == "models"] if args.all else args.models
    if not names:
        parser.error("name at least one model, or --all")
    try:
        reports = calibrate(names, args.data)
    except FerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(reports, indent=2))
    else:
        print(f"{'model':<40}{'T':>7}{'ECE before':>12}{'after':>8}{'NLL before':>12}{'after':>8}")
        for r in reports:
            print(f"{r['model']:<40}{r['temperature']:>7.3f}{r['ece_before']:>12.4f}{r['ece_after']:>8.4f}"
                  f"{r['nll_before']:>12.4f}{r['nll_after']:>8.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
