"""The training set of the `fast` wild fine-tune: FER2013 Training plus wild_dev's tune part, as face crops.

    python splits/build_wild_finetune_set.py --copies 4 --out data/fer2013_plus_wild_tune \
        --targets models/teacher_targets/fer2013_three_teachers.npz --targets-out runs/wild_ft/targets.npz

FER2013 Training faces are hard-linked as they are. Each wild_dev tune photo goes through the pipeline's own
detector and crop (the largest face, the model's margin, 48 px grey), so the network learns from what it
will see, and is written `--copies` times (the augmentation makes each copy different), so that the 827
photos weigh about a tenth of the 28,709 FER2013 faces. Their teacher targets are their own labels, smoothed
(0.9 on the label): the ensemble's answers on web photos are right only about half the time.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from fer_core.emotions import EMOTIONS
from fer_core.evaluate import labelled_images
from fer_core.io import load_image
from fer_core.pipeline import EmotionRecognizer
from fer_core.preprocess import unscale_pixels


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--training", type=Path, default=Path("data/Training"))
    p.add_argument("--wild", type=Path, default=Path("data/wild_dev_tune"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--copies", type=int, default=4)
    p.add_argument("--targets", type=Path, required=True)
    p.add_argument("--targets-out", type=Path, required=True)
    args = p.parse_args()
    for path, label in labelled_images(args.training):
        target = args.out / EMOTIONS[label] / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.link(path, target)
    recognizer = EmotionRecognizer(model="fast")
    keys, probs = [], []
    no_face = 0
    for path, label in labelled_images(args.wild):
        boxes = recognizer.find_faces(load_image(path))
        if not boxes:
            no_face += 1
            continue
        face = unscale_pixels(recognizer.crops(load_image(path), [max(boxes, key=lambda b: b.area)])[0])
        for copy in range(args.copies):
            name = f"wild{copy}_{path.stem}.png"
            cv2.imwrite(str(args.out / EMOTIONS[label] / name), face)
            keys.append(name.lower())
            probs.append(np.full(len(EMOTIONS), 0.1 / len(EMOTIONS)) + 0.9 * np.eye(len(EMOTIONS))[label])
    with np.load(args.targets) as stored:
        all_keys = np.concatenate([stored["keys"], np.array(keys)])
        all_probs = np.concatenate([stored["probs"].astype(np.float32), np.array(probs, dtype=np.float32)])
        teachers = np.concatenate([stored["teachers"], np.array(["wild_dev tune labels"])])
    args.targets_out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.targets_out, keys=all_keys, probs=all_probs.astype(np.float16), teachers=teachers,
             classes=np.array(EMOTIONS))
    print(f"{len(keys)} wild crops ({no_face} photos without a face), targets in {args.targets_out}")


if __name__ == "__main__":
    main()
