"""Split wild_dev into a part for tuning (training, fine-tuning, choosing) and a part kept out for reporting.

    python splits/make_wild_dev_split.py data/wild_dev > splits/wild_dev.csv      # made once, committed
    python splits/make_wild_dev_split.py --link data/wild_dev                     # make wild-dev runs this

`--link` lays the committed split out as two folders of class folders beside the set (hard links, no copies):
`data/wild_dev_tune/` and `data/wild_dev_kept_out/`, which every evaluation command takes as it is.

By person, not by photo: many wild_dev photos are LFW pictures named `First_Last_0003.jpg`, several of one
person, and the same face on both sides would flatter the kept-out score. People are shuffled with a fixed
seed (those with most photos first) and each goes whole to the part where their photos overflow half of
each class the least, so both parts hold about half of every class.
The file list is committed, so every report names the same kept-out photos.
"""

from __future__ import annotations

import os
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SEED = 25
PARTS = ("tune", "kept_out")


def person(file_name: str) -> str:
    """`Aaron_Peirsol_0003.jpg` -> `Aaron_Peirsol`; a name without a trailing number is its own person."""
    stem = Path(file_name).stem
    return re.sub(r"_\d+$", "", stem)


def split(root: Path) -> list[tuple[str, str, str]]:
    """(file, label, part) rows; each person whole in one part, every class about half in each."""
    photos: dict[str, list[tuple[str, str]]] = defaultdict(list)  # person -> (label, file name)
    for label in CLASSES:
        folder = root / label
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                photos[person(path.name)].append((label, path.name))
    people = sorted(photos)
    random.Random(SEED).shuffle(people)
    people.sort(key=lambda who: -len(photos[who]))  # the people with most photos first, while there is room
    target = defaultdict(float)
    for items in photos.values():
        for label, _ in items:
            target[label] += 0.5
    counts = {part: defaultdict(int) for part in PARTS}
    rows = []
    for who in people:
        def overflow(part: str) -> float:
            added = defaultdict(int)
            for label, _ in photos[who]:
                added[label] += 1
            return sum(max(0.0, counts[part][c] + n - target[c]) for c, n in added.items())
        part = min(PARTS, key=lambda p: (overflow(p), sum(counts[p].values())))
        for label, name in photos[who]:
            counts[part][label] += 1
            rows.append((f"{label}/{name}", label, part))
    return sorted(rows)


def link(root: Path, split_file: Path = Path(__file__).with_name("wild_dev.csv")) -> None:
    for line in split_file.read_text(encoding="utf-8").splitlines()[1:]:
        file, label, part = line.split(",")
        target = root.parent / f"{root.name}_{part}" / file
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(root / file, target)


if __name__ == "__main__":
    if sys.argv[1] == "--link":
        link(Path(sys.argv[2]))
    else:
        print("file,label,part")
        for row in split(Path(sys.argv[1])):
            print(",".join(row))
