#!/usr/bin/env bash
# Pack what a GPU job needs beside the checkout into .gpujob/ (git-ignored; the device calls carry it):
# FER2013 (Training + PublicTest, re-compressed with xz: 38.5 MB) and the Keras wheels for the GPU machine's
# Python 3.12 (it has torch, no Keras).
#
# A call carries at most 64 MiB, the checkout included (the shipped models make it about 30 MiB), so the data
# is cut into parts that fit beside it: .gpujob/part1 ... partN. Each part is one call, made in order on the
# same warm machine, which keeps what earlier calls left in its data/ folder; the last part's call carries
# the wheels too and runs the job. The calls to make are printed at the end (see README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
TGZ=${FER2013_TGZ:-../shared/data/fer2013_trainval.tgz}
XZ=.gpujob/fer2013_trainval.tar.xz
mkdir -p .gpujob/wheels
[[ $XZ -nt "$TGZ" ]] || gzip -dc "$TGZ" | xz -T2 -9e > "$XZ"
PY=${PYTHON:-python3}
for pkg in keras namex optree; do
  ls .gpujob/wheels/"$pkg"-*.whl >/dev/null 2>&1 || \
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      -d .gpujob/wheels "$pkg"
done

bytes() { du -cb "$@" 2>/dev/null | awk '$2 == "total" {s += $1} END {print s + 0}'; }
# what every call sends anyway: tracked files and untracked files git does not ignore
TREE=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -cb 2>/dev/null \
  | awk '$2 == "total" {s += $1} END {print s + 0}')
ROOM=$(( 64 * 1048576 - 1048576 - TREE - $(bytes .gpujob/wheels) ))  # 1 MiB of margin
(( ROOM > 4 * 1048576 )) || { echo "the checkout ($((TREE / 1048576)) MiB) leaves no room for data in a call" >&2; exit 1; }
rm -rf .gpujob/part*
split -b "$ROOM" -d -a 2 "$XZ" .gpujob/data.part-
PARTS=(.gpujob/data.part-*)
SUM=$(sha256sum "$XZ" | cut -d' ' -f1)
for i in "${!PARTS[@]}"; do
  dir=.gpujob/part$((i + 1))
  mkdir -p "$dir"
  mv "${PARTS[$i]}" "$dir/"
  echo "${#PARTS[@]} $SUM" > "$dir/MANIFEST"
done
N=${#PARTS[@]}
echo "checkout $((TREE / 1048576)) MiB; data $(( $(bytes "$XZ") / 1048576 )) MiB in $N part(s). Calls, in order, on one warm machine:"
for i in $(seq 1 $((N - 1))); do
  echo "  $i. command: bash tools/gpu_job/receive.sh    carry: [\".gpujob/part$i\"]"
done
echo "  $N. command: [VARS...] bash tools/gpu_job/run.sh    carry: [\".gpujob/part$N\", \".gpujob/wheels\"]"
echo "  $((N + 1)). optional, if call $N trained the teachers only (STUDENT_ARCHS=\"\"): the students, right after it,"
echo "     from the targets it left there: command: TEACHER_SEEDS=\"\" [VARS...] bash tools/gpu_job/run.sh    carry: [\".gpujob/wheels\"]"
