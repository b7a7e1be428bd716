#!/usr/bin/env bash
# Create benchmarks/.fer-venv with the `fer` package, for benchmarks/compare_fer.py only.
# `fer` is a benchmark-only dependency: never installed into the project's .venv.
# Its own requirements pull in moviepy/ffmpeg and the GUI build of OpenCV, so it is installed with
# --no-deps and given just what `fer.fer.FER(mtcnn=False).detect_emotions` needs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.fer-venv"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet --no-deps fer==25.10.3
"$VENV/bin/python" -m pip install --quiet tensorflow-cpu "opencv-contrib-python-headless<5" pandas tqdm requests Pillow "setuptools<81"
"$VENV/bin/python" -c "from fer.fer import FER; FER(mtcnn=False); print('fer venv ready:', '$VENV')"
