#!/usr/bin/env bash
# On the GPU machine: keep the data part(s) this call carried (.gpujob/partK) in data/.parts/, which stays
# on the machine between calls, and unpack FER2013 into data/ once every part has arrived (see pack.sh).
# Exits 0 when data/ is complete, 3 while parts are still to come (each then says how many).
set -uo pipefail
[[ -d data/PublicTest && -d data/Training ]] && { echo "data/ already unpacked"; exit 0; }
mkdir -p data/.parts
for dir in .gpujob/part*/; do
  [[ -d $dir ]] || continue
  cp "$dir"data.part-* "$dir"MANIFEST data/.parts/ || exit 1
done
[[ -f data/.parts/MANIFEST ]] || { echo "no data part was carried: run the part calls first (tools/gpu_job/README.md)"; exit 1; }
read -r TOTAL SUM < data/.parts/MANIFEST
HAVE=$(ls data/.parts/data.part-* | wc -l)
if (( HAVE < TOTAL )); then
  echo "received $HAVE of $TOTAL data parts; $((TOTAL - HAVE)) more call(s) to go (on this same machine)"
  exit 3
fi
[[ $(cat data/.parts/data.part-* | sha256sum | cut -d' ' -f1) == "$SUM" ]] \
  || { echo "the data parts do not add up to the packed archive: pack again and resend"; rm -rf data/.parts; exit 1; }
cat data/.parts/data.part-* | python3 -c "import sys, tarfile; tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz').extractall('data', filter='data')" \
  || exit 1
rm -rf data/.parts
echo "data/ unpacked: $(find data/Training -type f | wc -l) training and $(find data/PublicTest -type f | wc -l) validation faces"
