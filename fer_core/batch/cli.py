"""`python -m fer_core.batch INPUT... --out DIR` (also `emotion-recognition batch ...`): an archive on Dask.

Prints a progress bar (files, frames, time left) on stderr, one line per failed input, and a closing
line; `--json` prints the report instead. Exit status: 0 when the job completed (inputs that failed are in
the errors table), 1 when every input failed or the job could not run (one line, never a traceback;
FER_DEBUG=1 shows one), 2 for bad options, 130 when interrupted (what finished stays written: run the same
command again to continue).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ..cli_options import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, add_settings_arguments, settings_arguments_valid, \
    settings_from
from ..errors import FerError
from .cluster import DEFAULT_DASHBOARD, ClusterSpec, default_workers
from .plan import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS
from .runner import BatchOptions, BatchReport, Progress

DEFAULT_OUT = Path("batch_results")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "python -m fer_core.batch",
        description="Analyse every photo and video of an archive on a Dask cluster (local worker processes by "
        "default) into a Parquet dataset partitioned by input file, with a per-file summary, an errors table "
        "and a manifest: running the same command again skips finished inputs and retries failed ones.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="photos, videos, folders (searched recursively) or quoted glob patterns ('clips/**/*.mp4')")
    parser.add_argument("--out", "-o", type=Path, default=DEFAULT_OUT,
                        help=f"results folder (default: {DEFAULT_OUT}/)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", "-w", type=int, default=None, metavar="N",
                       help=f"local worker processes (default: one per core, here {default_workers()})")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers must import "
                       "fer_core and read the inputs at the same paths)")
    parser.add_argument("--dashboard", nargs="?", const=DEFAULT_DASHBOARD, default=None, metavar="HOST:PORT",
                        help=f"start the Dask dashboard (local cluster; default {DEFAULT_DASHBOARD}) and print its "
                        "address; with --scheduler, print the cluster's")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="video: analyse every Nth frame (default: 1)")
    parser.add_argument("--chunk-seconds", type=float, default=DEFAULT_CHUNK_SECONDS, metavar="S",
                        help=f"video: cut into tasks of at least S seconds, at keyframes (default: {DEFAULT_CHUNK_SECONDS:g})")
    parser.add_argument("--overlap-seconds", type=float, default=DEFAULT_OVERLAP_SECONDS, metavar="S",
                        help="video: each chunk also analyses S seconds of the next, to carry face ids across "
                        f"the cut (default: {DEFAULT_OVERLAP_SECONDS:g})")
    add_settings_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    return parser


class ProgressDisplay:
    """A tqdm bar over frames (files and failures beside it) on a terminal; a line every 10 s otherwise."""

    def __init__(self, enabled: bool, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.enabled = enabled
        self.bar: Any = None
        self._last_line = time.monotonic()
        self._said_last = False
        self.tty = enabled and stream.isatty()

    def __call__(self, p: Progress) -> bool:
        if not self.enabled:
            return True
        files = f"files {p.files_done}/{p.files_total}" + (f" ({p.files_failed} failed)" if p.files_failed else "")
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=p.frames_total, unit="frame", file=self.stream, dynamic_ncols=True,
                                bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} frames "
                                           "[{elapsed}<{remaining}, {rate_fmt}]")
            self.bar.set_description_str(files, refresh=False)
            self.bar.total = p.frames_total
            self.bar.n = p.frames_done
            self.bar.refresh()
        elif time.monotonic() - self._last_line >= 10 or (p.files_done == p.files_total and not self._said_last):
            self._last_line = time.monotonic()
            self._said_last = p.files_done == p.files_total
            eta = f", about {p.eta:.0f} s left" if p.eta is not None and p.files_done < p.files_total else ""
            print(f"{files}, frames {p.frames_done}/{p.frames_total}, {p.elapsed:.0f} s{eta}", file=self.stream,
                  flush=True)
        return True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _closing_line(report: BatchReport) -> str:
    now = report.analysed + report.no_faces
    counts = f"{report.done} of {report.files} inputs done"
    if report.skipped:
        counts += f" ({now} now, {report.skipped} in an earlier run)"
    if report.no_faces:
        counts += f", {report.no_faces} without faces"
    if report.failed:
        counts += f", {report.failed} failed"
    rate = f" ({report.frames / report.seconds:.0f} frames/s)" if report.seconds > 0 and report.frames else ""
    return (f"{counts}; {report.frames} frames analysed in {report.seconds:.1f} s{rate}. "
            f"Results in {report.out}/ (faces/, files.parquet, errors.parquet).")


def main(argv: list[str] | None = None, out: TextIO | None = None, prog: str | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if (args.every < 1 or args.chunk_seconds <= 0 or args.overlap_seconds < 0
            or (args.workers is not None and args.workers < 1) or not settings_arguments_valid(args)):
        parser.error("--every, --workers, --detect-every and --smoothing must be at least 1, --chunk-seconds above "
                     "0, --overlap-seconds 0 or more, and --detect-width 0 (full size) or at least 32")
    display = ProgressDisplay(enabled=not args.quiet)
    try:
        from .runner import run_batch

        options = BatchOptions(
            out=args.out, settings=settings_from(args), every=args.every, chunk_seconds=args.chunk_seconds,
            overlap_seconds=args.overlap_seconds,
            cluster=ClusterSpec(scheduler=args.scheduler, workers=args.workers, dashboard=args.dashboard is not None,
                                dashboard_address=args.dashboard or DEFAULT_DASHBOARD),
        )

        def connected(link: str | None, threads: int) -> None:
            where = f"Dask cluster at {args.scheduler}" if args.scheduler else "local Dask cluster"
            print(f"{where}: {threads} worker{'s' if threads != 1 else ''}"
                  + (f"; dashboard: {link}" if link else ""), file=sys.stderr, flush=True)

        report = run_batch(args.inputs, options, progress=display,
                           on_connect=None if args.quiet and not args.dashboard else connected)
    except FerError as error:
        display.close()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        display.close()
        print("interrupted; what finished is written. Run the same command again to continue.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - one line, never a traceback, unless debugging
        display.close()
        if os.environ.get("FER_DEBUG"):
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (set FER_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_ERROR
    display.close()
    for failure in report.errors:
        print(f"failed: {failure['reason']}", file=sys.stderr)
    try:
        if args.json:
            print(json.dumps(report.to_dict(), indent=2), file=out)
        else:
            print(_closing_line(report), file=out)
        out.flush()
    except BrokenPipeError:  # the output was piped into a command that stopped reading (| head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if report.interrupted:
        print(f"interrupted: {report.done} of {report.files} inputs finished and written. Run the same command "
              "again to continue.", file=sys.stderr)
        return EXIT_INTERRUPTED
    if report.failed and report.done == 0:
        return EXIT_ERROR
    return EXIT_OK
