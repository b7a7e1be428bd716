#!/usr/bin/env python3
"""Make samples/fer2013_sample, the explorer's bundled labelled set (run from the repository root, with
data/PublicTest extracted and ../shared/data beside the checkout).

Per class: the 10 faces of samples/fer2013_mini, then 40 more from data/PublicTest, chosen with numpy's
default_rng(0) from the sorted remaining file names (disgust has 56 in PublicTest). Their FER+ votes are copied
from ../shared/data/ferplus_votes_trainval.csv into samples/fer2013_sample/ferplus_votes.csv, so tests and CI
have them."""
import csv, shutil
from pathlib import Path
import numpy as np
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
src, mini, out = Path("data/PublicTest"), Path("samples/fer2013_mini"), Path("samples/fer2013_sample")
rng = np.random.default_rng(0)
chosen = []
for e in EMOTIONS:
    kept = sorted(p.name for p in (mini / e).glob("*.jpg"))
    rest = sorted(p.name for p in (src / e).glob("*.jpg") if p.name not in kept)
    more = sorted(rng.choice(rest, size=min(40, len(rest)), replace=False).tolist())
    (out / e).mkdir(parents=True, exist_ok=True)
    for name in kept + more:
        shutil.copyfile(src / e / name, out / e / name)
        chosen.append(f"PublicTest/{e}/{name}")
wanted = set(chosen)
with open("../shared/data/ferplus_votes_trainval.csv", newline="") as fh, open(out / "ferplus_votes.csv", "w", newline="") as dst:
    reader = csv.reader(fh); writer = csv.writer(dst)
    writer.writerow(next(reader)); n = 0
    for row in reader:
        if row[1] in wanted:
            writer.writerow(row); n += 1
print(len(chosen), "faces,", n, "with votes")
