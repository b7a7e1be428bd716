"""The options and exit statuses the two commands share: `python emotion_recognition.py` (`cli.py`) and its
`batch` subcommand (`batch/cli.py`). Kept below both so each command imports it and neither imports the other
for it (the main command hands `batch ...` to the batch command, so that import runs one way).
"""

from __future__ import annotations

import argparse
from typing import Any

from .detectors import available_detectors
from .settings import PRESETS, Settings

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130  # bad options: argparse exits with 2
DEFAULTS = Settings()


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that build a `Settings` (`settings_from`): shared by this command and the batch command."""
    parser.add_argument("--detector", default=None, choices=available_detectors(),
                        help=f"face detector (default: {DEFAULTS.detector})")
    parser.add_argument("--model", default=None,
                        help="model name or alias: fast, accurate, best (default: the default model; see --list-models)")
    parser.add_argument("--tta", action="store_true", help="average each face with its mirror image (slower, steadier)")
    parser.add_argument("--level-eyes", action=argparse.BooleanOptionalAction, default=None,
                        help=f"turn each face so its eyes are level before classifying (YuNet; default: "
                        f"{'on' if DEFAULTS.level_eyes else 'off'})")
    parser.add_argument("--preset", choices=list(PRESETS), default="realtime",
                        help="realtime (default): detection on a 320-px copy, in video on one frame in 5 with "
                        "tracking between; thorough: detection on every analysed frame at 640 px")
    parser.add_argument("--fast", action="store_true", help="the realtime preset (the default; kept for old scripts)")
    parser.add_argument("--detect-width", type=int, default=None, metavar="W",
                        help="detect faces on a copy W pixels wide (0: full size; default: the preset's)")
    parser.add_argument("--smoothing", type=int, default=None, metavar="W",
                        help=f"video: smooth each face's probabilities over W analysed frames (1 = off; default "
                        f"{DEFAULTS.smoothing})")
    parser.add_argument("--detect-every", type=int, default=None, metavar="K",
                        help="video: run the detector on one analysed frame in K, tracking faces in between "
                        "(default: the preset's)")


def settings_arguments_valid(args: argparse.Namespace) -> bool:
    """Whether the settings options are in range (argparse reports the problem, exit status 2)."""
    return not ((args.detect_every is not None and args.detect_every < 1)
                or (args.smoothing is not None and args.smoothing < 1)
                or (args.detect_width is not None and 0 < args.detect_width < 32) or (args.detect_width or 0) < 0)


def settings_from(args: argparse.Namespace) -> Settings:
    """The preset, with every option the user gave on top."""
    settings = PRESETS["realtime" if args.fast else args.preset]
    changes: dict[str, Any] = {"model": args.model, "tta": args.tta}
    if args.detector is not None:
        changes["detector"] = args.detector
    if args.level_eyes is not None:
        changes["level_eyes"] = args.level_eyes
    if args.detect_width is not None:
        changes["detect_width"] = args.detect_width or None
    if args.detect_every is not None:
        changes["detect_every"] = args.detect_every
    if args.smoothing is not None:
        changes["smoothing"] = args.smoothing
    return settings.replace(**changes)
