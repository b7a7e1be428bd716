"""`python emotion_recognition.py --input PATH`: emotions in an image, a video or a folder of both.

Every failure the user can fix ends in one line on stderr and a non-zero exit (1 for bad input, 2 for bad
options, 130 when interrupted); set FER_DEBUG=1 to see a traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .annotate import draw_faces
from .detectors import available_detectors
from .emotions import EMOTIONS, display_name
from .errors import FerError, InputNotFoundError, UnsupportedInputError
from .io import is_image_path, is_video_path, load_image

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion_recognition.py",
        description="Detect faces and recognise their emotions (Angry, Disgust, Fear, Happy, Sad, Surprise, "
        "Neutral) in an image, a video, or every image and video in a folder.",
    )
    parser.add_argument("--input", "-i", required=True, type=Path, help="image, video or folder")
    parser.add_argument("--output", "-o", type=Path,
                        help="annotated copy: an image or video file (.mp4/.webm); for a folder, a folder")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--detector", default="haar", choices=available_detectors(), help="face detector (default: haar)")
    parser.add_argument("--model", default=None, help="model name from models/ (default: the default model)")
    parser.add_argument("--list-models", action="store_true", help="list the models and exit")
    parser.add_argument("--tta", action="store_true", help="average each face with its mirror image (slower, steadier)")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="video: analyse every Nth frame (default: 1)")
    parser.add_argument("--fps", type=float, default=None, help="video: analyse about this many frames a second")
    parser.add_argument("--smoothing", type=int, default=5, metavar="W",
                        help="video: smooth each face's probabilities over W analysed frames (1 = off; default 5)")
    parser.add_argument("--detect-every", type=int, default=1, metavar="K",
                        help="video: run the detector on one analysed frame in K, tracking faces in between")
    parser.add_argument("--fast", action="store_true",
                        help="real-time preset: YuNet on a 320-px-wide copy, and for video detection on every 5th "
                        "frame with tracking in between (5-10x faster on video; may miss small faces in big photos)")
    parser.add_argument("--csv", type=Path, help="folder or video: write all results to this CSV file")
    return parser


@dataclass
class ImageReport:
    path: Path
    faces: list[Any]

    def to_dict(self) -> dict[str, Any]:
        return {"input": str(self.path), "type": "image", "faces": [f.to_dict() for f in self.faces]}


def _print_image(report: ImageReport, out: TextIO) -> None:
    if not report.faces:
        print("No faces detected", file=out)
    for face in report.faces:
        print(f"Detected Emotion: {display_name(face.label)}", file=out)


def _print_video(analysis: Any, out: TextIO) -> None:
    summary = analysis.face_summary()
    info = analysis.info
    print(f"Video: {info.duration:.1f} s, {analysis.frames_analysed} of {analysis.frames_decoded} frames analysed", file=out)
    if summary.empty:
        print("No faces detected", file=out)
        return
    for row in summary.itertuples(index=False):
        shares = {e: getattr(row, f"share_{e}") for e in EMOTIONS}
        ranked = sorted(((v, e) for e, v in shares.items() if v > 0), reverse=True)
        detail = ", ".join(f"{display_name(e)} {v:.0%}" for v, e in ranked)
        print(f"Face {row.face_id} ({row.first_seen:.1f}-{row.last_seen:.1f} s): Detected Emotion: "
              f"{display_name(row.dominant)} ({detail})", file=out)


def analyze_image_file(path: Path, recognizer: Any, output: Path | None) -> ImageReport:
    image = load_image(path)
    faces = recognizer.analyze(image)
    if output is not None:
        _write_image(output, draw_faces(image, faces, numbered=len(faces) > 1))
    return ImageReport(path, faces)


def _write_image(path: Path, image: Any) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise FerError(f"Could not write {path}; use a .jpg or .png name in a writable folder.")


def analyze_video_file(path: Path, recognizer: Any, args: argparse.Namespace, output: Path | None,
                       show_progress: bool) -> Any:
    from .video import analyze_video

    bar = None
    progress = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="frame", desc=path.name, file=sys.stderr, leave=False)

        def progress(done: int, total: int) -> bool:
            bar.total = total
            bar.n = done
            bar.refresh()
            return True

    try:
        return analyze_video(path, recognizer, every=args.every, target_fps=args.fps, smoothing_window=args.smoothing,
                             detect_every=args.detect_every, output_path=output, progress=progress)
    finally:
        if bar is not None:
            bar.close()


def _video_output(output: Path | None) -> Path | None:
    if output is None:
        return None
    if output.suffix.lower() not in (".mp4", ".webm"):
        raise FerError(f"The annotated video must be written as .mp4 or .webm, not {output.name}.")
    return output


def run_single(path: Path, recognizer: Any, args: argparse.Namespace, out: TextIO) -> int:
    if is_image_path(path):
        report = analyze_image_file(path, recognizer, args.output)
        if args.json:
            print(json.dumps(report.to_dict(), indent=2), file=out)
        else:
            _print_image(report, out)
        return EXIT_OK
    if is_video_path(path):
        analysis = analyze_video_file(path, recognizer, args, _video_output(args.output), sys.stderr.isatty())
        if args.csv:
            analysis.timeline.to_csv(args.csv, index=False)
        if args.json:
            print(json.dumps({"input": str(path), "type": "video", **analysis.to_dict()}, indent=2, default=str), file=out)
        else:
            _print_video(analysis, out)
        return EXIT_OK
    raise UnsupportedInputError(f"{path.name} is neither an image nor a video this tool reads (by its extension).")


def run_folder(folder: Path, recognizer: Any, args: argparse.Namespace, out: TextIO) -> int:
    """Every image and video in the folder; a bad file is reported and skipped, the rest still run."""
    import pandas as pd
    from tqdm import tqdm

    files = sorted(p for p in folder.rglob("*") if p.is_file() and (is_image_path(p) or is_video_path(p)))
    if not files:
        raise FerError(f"{folder} has no images or videos in it.")
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    failures = 0
    for path in tqdm(files, unit="file", desc="analysing", file=sys.stderr, disable=not sys.stderr.isatty()):
        relative = path.relative_to(folder)
        try:
            if is_image_path(path):
                target = args.output / relative.with_suffix(".png") if args.output else None
                report = analyze_image_file(path, recognizer, target)
                results.append(report.to_dict())
                for face_index, face in enumerate(report.faces, 1):
                    rows.append({"file": str(relative), "type": "image", "time": None, "face_id": face_index, **face.to_row()})
                if not args.json:
                    labels = ", ".join(display_name(f.label) for f in report.faces) or "No faces detected"
                    print(f"{relative}: {labels}", file=out)
            else:
                target = args.output / relative.with_suffix(".mp4") if args.output else None
                analysis = analyze_video_file(path, recognizer, args, target, False)
                results.append({"input": str(path), "type": "video", **analysis.to_dict(include_timeline=False)})
                for record in analysis.timeline.to_dict(orient="records"):
                    rows.append({"file": str(relative), "type": "video", **record})
                if not args.json:
                    summary = analysis.face_summary()
                    labels = ", ".join(f"face {r.face_id}: {display_name(r.dominant)}" for r in summary.itertuples()) or "No faces detected"
                    print(f"{relative}: {labels}", file=out)
        except FerError as error:
            failures += 1
            results.append({"input": str(path), "error": str(error)})
            print(f"skipped {relative}: {error}", file=sys.stderr)
    csv_path = args.csv or Path(f"{folder.resolve().name}_emotions.csv")
    pd.DataFrame(rows).to_csv(csv_path, index=False)
    if args.json:
        print(json.dumps({"input": str(folder), "type": "folder", "csv": str(csv_path), "files": results}, indent=2, default=str), file=out)
    else:
        print(f"{len(files) - failures} of {len(files)} files analysed; results in {csv_path}", file=out)
    return EXIT_OK if failures < len(files) else EXIT_ERROR


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.every < 1 or args.detect_every < 1 or args.smoothing < 1 or (args.fps is not None and args.fps <= 0):
        parser.error("--every, --detect-every and --smoothing must be at least 1, and --fps above 0")
    try:
        from .pipeline import EmotionRecognizer
        from .models import list_models

        if args.list_models:
            for spec in list_models():
                print(f"{spec.name}\t{spec.title}", file=out)
            return EXIT_OK
        if not args.input.exists():
            raise InputNotFoundError(f"{args.input} does not exist.")
        detector_params = None
        if args.fast:
            from .stream import FAST_PRESET

            if args.detector == "haar":  # the default: the preset's detector unless another was chosen
                args.detector = FAST_PRESET["detector"]
            if args.detect_every == 1:
                args.detect_every = FAST_PRESET["detect_every"]
            detector_params = {"detect_width": FAST_PRESET["detect_width"]}
        recognizer = EmotionRecognizer(detector=args.detector, model=args.model, tta=args.tta,
                                       detector_params=detector_params)
        if args.input.is_dir():
            return run_folder(args.input, recognizer, args, out)
        return run_single(args.input, recognizer, args, out)
    except FerError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print("error: not enough memory for this input; try a smaller image or video.", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # last resort: one line, never a traceback, unless debugging
        if os.environ.get("FER_DEBUG"):
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (set FER_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_ERROR
