"""`python emotion_recognition.py --input PATH`: emotions in an image, a video or a folder of both.

Every failure the user can fix ends in one line on stderr and a non-zero exit (1 for bad input, 2 for bad
options, 130 when interrupted); set FER_DEBUG=1 to see a traceback instead. A first Ctrl-C does not lose the
run: the video or folder stops at the next frame or file and what was analysed is written (`interrupt.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .cli_options import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, add_settings_arguments, settings_arguments_valid, \
    settings_from
from .emotions import EMOTIONS, display_name
from .errors import FerError, InputNotFoundError, UnsupportedInputError
from .interrupt import StopOnCtrlC
from .io import is_image_path, is_video_path, load_photo, stream_name, url_scheme
from .results import face_rows, results_format, row_dicts, scale_faces


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Detect faces and recognise their emotions (Angry, Disgust, Fear, Happy, Sad, Surprise, "
        "Neutral) in an image, a video, or every image and video in a folder. For whole archives on "
        "several cores or a Dask cluster: %(prog)s batch INPUT... --out DIR (see %(prog)s batch --help).",
    )
    parser.add_argument("--input", "-i", help="image, video or folder, or a network stream's URL (rtsp://, http://, "
                        "udp://, ...; read until it ends or Ctrl-C) (required unless --list-models)")
    parser.add_argument("--output", "-o", type=Path,
                        help="annotated copy: an image or video file (.mp4/.webm); for a folder, a folder")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--results", "--csv", dest="results", type=Path, metavar="PATH",
                        help="write the results table (one row per face per analysed frame) to a .csv, .json or "
                        ".parquet file (a folder run writes <folder>_emotions.csv unless given)")
    parser.add_argument("--list-models", action="store_true", help="list the models and exit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_settings_arguments(parser)
    parser.add_argument("--every", type=int, default=1, metavar="N", help="video: analyse every Nth frame (default: 1)")
    parser.add_argument("--fps", type=float, default=None, help="video: analyse about this many frames a second")
    return parser


def _write_image(path: Path, image: Any) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise FerError(f"Could not write {path}; use a .jpg or .png name in a writable folder.")


def analyze_image_file(path: Path, recognizer: Any, output: Path | None, source: str) -> list[tuple]:
    """Rows of the results table for one image (and its annotated copy when asked)."""
    from .annotate import draw_faces

    photo = load_photo(path)  # a JPEG over the pixel bound decoded reduced: boxes mapped back to the file's pixels
    faces = recognizer.analyze(photo.image)
    if output is not None:
        _write_image(output, draw_faces(photo.image, faces, numbered=len(faces) > 1))
    return face_rows(scale_faces(faces, photo.scale), source)


def _labels(rows: list[tuple]) -> list[str]:
    """The shown label of each face of an image (rows in `COLUMNS` order)."""
    return [record["smoothed_label"] for record in row_dicts(rows)]


def run_provenance(recognizer: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What made this run's results (`fer_core.provenance`), as every results file of the run says."""
    from .provenance import provenance

    return provenance(recognizer, every=getattr(args, "every", None), fps=getattr(args, "fps", None))


def growing_results(path: Path | None, made_by: dict[str, Any] | None = None) -> Any:
    """A context giving the `LiveResultsCsv` that a .csv results file is written through while the run goes
    (so a crash or a kill keeps the rows), or None: no file, or a .json or .parquet one, written at the end."""
    from contextlib import nullcontext

    if path is None or results_format(path) != "csv":
        return nullcontext()
    from .results_csv import LiveResultsCsv

    return LiveResultsCsv(path, provenance=made_by)


def check_results_path(path: Path | None) -> None:
    """Refuse a results file that could not be written before the run, not after it (one sentence)."""
    if path is None:
        return
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:  # the folders to be made go in the nearest one there
        folder = folder.parent
    if path.exists():
        writable = not path.is_dir() and os.access(path, os.W_OK)
    else:
        writable = os.access(folder, os.W_OK)
    if not (folder.is_dir() and writable):
        raise FerError(f"Could not write the results to {path}; name a file in a folder you can write to.")
    results_format(path)


def analyze_video_file(path: Path | str, recognizer: Any, args: argparse.Namespace, output: Path | None,
                       show_progress: bool, source: str, stop: StopOnCtrlC, live: Any = None) -> Any:
    """The video's `VideoAnalysis`; it ends early (`stopped`) at the frame after a Ctrl-C. Its rows also go
    to `live` (a `LiveResultsCsv`) as they are settled."""
    from .video import analyze_video

    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="frame", desc=source, file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> bool:
        if bar is not None:
            bar.total = None if isinstance(path, str) else total  # a stream: frames and rate, no end
            bar.n = done
            bar.refresh()
        return not stop.requested

    try:
        return analyze_video(path, recognizer, every=args.every, target_fps=args.fps, output_path=output,
                             progress=progress, source=source, results_csv=live)
    finally:
        if bar is not None:
            bar.close()


def _video_output(output: Path | None) -> Path | None:
    if output is None:
        return None
    if output.suffix.lower() not in (".mp4", ".webm"):
        raise FerError(f"The annotated video must be written as .mp4 or .webm, not {output.name}.")
    return output


def _face_lines(summary: Any) -> list[str]:
    """One line per face of a video's summary (`results.summarize`)."""
    lines = []
    for row in summary.itertuples(index=False):
        ranked = sorted(((getattr(row, f"share_{e}"), e) for e in EMOTIONS if getattr(row, f"share_{e}") > 0), reverse=True)
        detail = ", ".join(f"{display_name(e)} {v:.0%}" for v, e in ranked)
        lines.append(f"Face {row.face_id} ({row.first_seen:.1f}-{row.last_seen:.1f} s): Detected Emotion: "
                     f"{display_name(row.dominant)} ({detail})")
    return lines


def _broke_off_note(source: str, analysis: Any) -> str:
    return (f"note: {source} broke off after {analysis.frames_decoded} frames (damaged, or a stream silent for too "
            "long); the results cover those frames")


def _stopped_at(analysis: Any) -> str:
    """Where a video run stopped, for the message after a Ctrl-C."""
    of = f" of {analysis.info.frame_count}" if analysis.info.frame_count else ""  # a live stream has no end
    return f"{analysis.frames_decoded}{of} frames, at {analysis.last_time:.1f} s"


def run_single(path: Path | str, recognizer: Any, args: argparse.Namespace, out: TextIO, stop: StopOnCtrlC) -> int:
    """One image, video file or stream URL (a str): its lines or JSON, and the table when asked."""
    settings = recognizer.settings.to_dict()
    if isinstance(path, str):
        return run_video(path, stream_name(path), recognizer, args, out, stop)
    if is_image_path(path):
        rows = analyze_image_file(path, recognizer, args.output, path.name)
        if args.results:
            from .results import results_table, write_table

            write_table(results_table(rows), args.results, run_provenance(recognizer, args))
        if args.json:
            print(json.dumps({"input": str(path), "type": "image", "settings": settings,
                              "provenance": run_provenance(recognizer, args), "results": row_dicts(rows)},
                             indent=2), file=out)
        else:
            labels = _labels(rows)
            for label in labels:
                print(f"Detected Emotion: {display_name(label)}", file=out)
            if not labels:
                print("No faces detected", file=out)
        return EXIT_INTERRUPTED if stop.requested else EXIT_OK
    if is_video_path(path):
        return run_video(path, path.name, recognizer, args, out, stop)
    raise UnsupportedInputError(f"{path.name} is neither an image nor a video this tool reads (by its extension).")


def run_video(video: Path | str, source: str, recognizer: Any, args: argparse.Namespace, out: TextIO,
              stop: StopOnCtrlC) -> int:
    """A video file or a stream URL: a line per face (or JSON), the table when asked; exit 130 after Ctrl-C."""
    from .results import summarize, write_table

    output = _video_output(args.output)
    made_by = run_provenance(recognizer, args)
    with growing_results(args.results, made_by) as live:
        analysis = analyze_video_file(video, recognizer, args, output, sys.stderr.isatty(), source, stop, live)
    if args.results and live is None:
        write_table(analysis.table, args.results, made_by)
    if analysis.broke_off:
        print(_broke_off_note(source, analysis), file=sys.stderr)
    kind = "stream" if isinstance(video, str) else "video"
    if args.json:
        print(json.dumps({"input": source if kind == "stream" else str(video), "type": kind, "provenance": made_by,
                          **analysis.to_dict()}, indent=2), file=out)
    else:
        seconds = analysis.info.duration or analysis.last_time + 1 / analysis.info.fps  # a live stream: as read
        print(f"{kind.capitalize()}: {seconds:.1f} s, {analysis.frames_analysed} of {analysis.frames_decoded} "
              "frames analysed", file=out)
        lines = _face_lines(summarize(analysis.table))
        print("\n".join(lines) if lines else "No faces detected", file=out)
    if analysis.stopped or stop.requested:  # stop.requested alone: a Ctrl-C after the last frame was read
        kept = f"; results so far in {args.results}" if args.results else ""
        print(f"stopped by Ctrl-C after {_stopped_at(analysis)}{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def annotated_names(files: list[Path]) -> dict[Path, Path]:
    """Where each file's annotated copy goes in the output folder: the same name as a .png (photos) or .mp4
    (videos); where two files would share it (clip.mov and clip.mp4), each keeps its own suffix in front
    (clip.mov.mp4, clip.mp4.mp4), so no copy overwrites another."""
    plain = {f: f.with_suffix(".png" if is_image_path(f) else ".mp4") for f in files}
    taken: dict[Path, int] = {}
    for name in plain.values():
        taken[name] = taken.get(name, 0) + 1
    return {f: name if taken[name] == 1 else f.with_name(f.name + name.suffix) for f, name in plain.items()}


def run_folder(folder: Path, recognizer: Any, args: argparse.Namespace, out: TextIO, stop: StopOnCtrlC) -> int:
    """Every image and video in the folder into one results table; a bad file is reported and skipped.
    After a Ctrl-C the table holds the files done so far (and the part of the video being analysed); a .csv
    table grows file by file (and frame by frame in a video), so even a killed run keeps what was done."""
    from tqdm import tqdm

    from .results import TableBuilder, records, summarize, write_table

    files = sorted(p for p in folder.rglob("*") if p.is_file() and (is_image_path(p) or is_video_path(p)))
    if not files:
        raise FerError(f"{folder} has no images or videos in it.")
    results_path = args.results or Path(f"{folder.resolve().name}_emotions.csv")
    check_results_path(results_path)
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
    copies = annotated_names([p.relative_to(folder) for p in files])
    builder = TableBuilder()
    errors: list[dict[str, str]] = []
    done = 0
    part_way: tuple[str, str] | None = None  # the video a Ctrl-C stopped part-way: (source, where)
    made_by = run_provenance(recognizer, args)
    with growing_results(results_path, made_by) as live:
        for path in tqdm(files, unit="file", desc="analysing", file=sys.stderr, disable=not sys.stderr.isatty()):
            if stop.requested:
                break
            done += 1
            relative = path.relative_to(folder)
            source = relative.as_posix()
            target = args.output / copies[relative] if args.output else None
            try:
                if is_image_path(path):
                    rows = analyze_image_file(path, recognizer, target, source)
                    builder.rows.extend(rows)
                    if live is not None:
                        live.add(rows, source)
                    labels = ", ".join(display_name(label) for label in _labels(rows)) or "No faces detected"
                else:
                    analysis = analyze_video_file(path, recognizer, args, target, False, source, stop, live)
                    builder.extend(analysis.table)
                    if analysis.stopped:
                        part_way = (source, _stopped_at(analysis))
                    if analysis.broke_off:
                        print(_broke_off_note(source, analysis), file=sys.stderr)
                    summary = summarize(analysis.table)
                    labels = ", ".join(f"face {r.face_id}: {display_name(r.dominant)}"
                                       for r in summary.itertuples()) or "No faces detected"
                if not args.json:
                    print(f"{source}: {labels}", file=out)
            except FerError as error:
                errors.append({"source": source, "error": str(error)})
                print(f"skipped {source}: {error}", file=sys.stderr)
    table = builder.table()
    if live is None:
        write_table(table, results_path, made_by)
    analysed = done - len(errors)
    if args.json:
        print(json.dumps({"input": str(folder), "type": "folder", "results_file": str(results_path),
                          "files": len(files), "analysed": analysed, "errors": errors,
                          "interrupted": stop.requested, "stopped_part_way": part_way[0] if part_way else None,
                          "settings": recognizer.settings.to_dict(), "summary": records(summarize(table))},
                         indent=2), file=out)
    elif stop.requested:
        print(f"stopped by Ctrl-C: {analysed} of {len(files)} files analysed"
              f"{f' ({part_way[0]} stopped after {part_way[1]})' if part_way else ''}; results so far in {results_path}",
              file=out)
    else:
        print(f"{analysed} of {len(files)} files analysed; results in {results_path}", file=out)
    if stop.requested:
        return EXIT_INTERRUPTED
    return EXIT_OK if len(errors) < len(files) else EXIT_ERROR


def print_models(out: TextIO) -> None:
    """The registry as a table: accuracy and cost side by side, and which role (alias) each model fills."""
    from .models import ALIAS_ROLES, aliases_of, list_models

    specs = list_models()
    tags = {spec.name: ", ".join(aliases_of(spec.name)) or "-" for spec in specs}
    width, tag_width = max(len(s.name) for s in specs) + 2, max(map(len, tags.values())) + 2
    print(f"{'model':<{width}}{'PublicTest':>11}{'ms/face':>9}  {'aliases':<{tag_width}}title", file=out)
    for spec in specs:
        accuracy = f"{spec.accuracy:.2%}" if spec.accuracy is not None else "-"
        cost = f"{spec.ms_per_face:.2f}" if spec.ms_per_face is not None else "-"
        print(f"{spec.name:<{width}}{accuracy:>11}{cost:>9}  {tags[spec.name]:<{tag_width}}{spec.title}", file=out)
    print("\nChoose with --model NAME or an alias: " + "; ".join(f"{a}: {r}" for a, r in ALIAS_ROLES.items()) + ".",
          file=out)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """The command line; `emotion-recognition batch INPUT... --out DIR` is the batch command
    (`python -m fer_core.batch`)."""
    out = out or sys.stdout
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["batch"]:
        from .batch.cli import main as batch_main

        return batch_main(argv[1:], out=out, prog=f"{Path(sys.argv[0]).name} batch")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.input is None and not args.list_models:
        parser.error("the following arguments are required: --input/-i")
    if args.every < 1 or (args.fps is not None and args.fps <= 0) or not settings_arguments_valid(args):
        parser.error("--every, --detect-every and --smoothing must be at least 1, --fps above 0, and "
                     "--detect-width 0 (full size) or at least 32")
    stop = StopOnCtrlC()
    try:
        from .pipeline import EmotionRecognizer

        if args.list_models:
            print_models(out)
            return EXIT_OK
        # An address stays a str: VideoReader reads it as a stream, or says in one sentence why it cannot.
        source: Path | str = args.input if url_scheme(args.input) else Path(args.input)
        if isinstance(source, Path) and not source.exists():
            raise InputNotFoundError(f"{source} does not exist.")
        check_results_path(args.results)
        recognizer = EmotionRecognizer(settings_from(args))
        with stop:
            if isinstance(source, Path) and source.is_dir():
                return run_folder(source, recognizer, args, out, stop)
            return run_single(source, recognizer, args, out, stop)
    except FerError as error:
        if stop.requested:  # e.g. a stream stopped before its first frame: nothing to keep
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
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
