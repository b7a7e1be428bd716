#!/usr/bin/env python3
"""Command line: `python emotion_recognition.py --input photo.jpg` prints `Detected Emotion: Happy` per face.

See `python emotion_recognition.py --help`; the work is done in `fer_core.cli`.
"""

from fer_core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
