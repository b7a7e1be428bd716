#!/usr/bin/env bash
# Pack what a GPU job needs beside the checkout into .gpujob/ (git-ignored; the device call carries it):
# FER2013 (Training + PublicTest) and the Keras wheels for the GPU machine's Python 3.12 (it has torch, no Keras).
set -euo pipefail
cd "$(dirname "$0")/../.."
TGZ=${FER2013_TGZ:-../shared/data/fer2013_trainval.tgz}
mkdir -p .gpujob/wheels
cp -u "$TGZ" .gpujob/fer2013_trainval.tgz
PY=${PYTHON:-python3}
for pkg in keras namex optree; do
  ls .gpujob/wheels/"$pkg"-*.whl >/dev/null 2>&1 || \
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      -d .gpujob/wheels "$pkg"
done
du -sh .gpujob
