#!/usr/bin/env bash
# Unpack a GPU job's results (the folder the device call returned, e.g. /work/.device/1) into runs/gpu/.
#   bash tools/gpu_job/unpack.sh /work/.device/1
# Then publish each model folder here, where TensorFlow converts it (see README.md).
set -euo pipefail
SRC=${1:?usage: unpack.sh RESULTS_FOLDER}
cd "$(dirname "$0")/../.."
for parts in $(ls "$SRC"/*.tgz.part-aa 2>/dev/null); do
  cat "${parts%aa}"* | tar xzf -
  echo "unpacked $(basename "${parts%.part-aa}")"
done
# one log per call (a job may take two: teachers, then students)
[[ -f $SRC/job.log ]] && cp "$SRC/job.log" "runs/gpu/job.$(basename "$SRC").log"
ls runs/gpu
