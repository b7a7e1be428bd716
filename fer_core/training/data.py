"""Training and evaluation datasets: class folders, the FER2013 CSV, FER+ soft labels.

Every reader checks the data completely *before* any training starts and raises `DatasetError` with one
sentence the user can act on (an empty class, an unreadable image, a wrong CSV header, fewer than two
classes). Faces are returned as uint8 grayscale arrays of shape (N, size, size) in memory: FER2013 is
28,709 faces of 48x48, i.e. 66 MB, so there is no need for a streaming pipeline.

Class folders look like `DATA/<emotion>/*.jpg|png|...` where `<emotion>` is one of `EMOTIONS` (any case);
the label index is always the position in `EMOTIONS`, whatever classes the folder holds, because every
model in the registry outputs the seven emotions in that order.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import archives
from ..archives import MAX_ZIP_BYTES, MAX_ZIP_FILES
from ..emotions import EMOTIONS
from ..errors import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}
FER2013_HEADER = ("emotion", "pixels", "Usage")
FER2013_SIZE = 48
# FER+ vote columns, in the order of `votes_neutral_happiness_surprise_sadness_anger_disgust_fear_contempt`,
# mapped to indices in EMOTIONS (contempt has no FER2013 class and is dropped).
FERPLUS_TO_EMOTIONS = (EMOTIONS.index("neutral"), EMOTIONS.index("happy"), EMOTIONS.index("surprise"),
                       EMOTIONS.index("sad"), EMOTIONS.index("angry"), EMOTIONS.index("disgust"),
                       EMOTIONS.index("fear"))


@dataclass
class FaceDataset:
    """Faces (uint8, N x size x size), integer labels (index in EMOTIONS) and where each face came from."""

    x: np.ndarray
    y: np.ndarray
    sources: list[str] = field(default_factory=list)
    soft: np.ndarray | None = None  # optional (N, 7) target distributions (FER+ votes)

    def __len__(self) -> int:
        return int(len(self.y))

    @property
    def size(self) -> int:
        return int(self.x.shape[1])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=len(EMOTIONS))
        return {name: int(c) for name, c in zip(EMOTIONS, counts)}

    def present_classes(self) -> list[str]:
        return [name for name, c in self.class_counts().items() if c > 0]

    def subset(self, idx: np.ndarray) -> "FaceDataset":
        return FaceDataset(self.x[idx], self.y[idx], [self.sources[i] for i in idx] if self.sources else [],
                           None if self.soft is None else self.soft[idx])

    def resized(self, size: int) -> "FaceDataset":
        if size == self.size:
            return self
        return FaceDataset(resize_faces(self.x, size), self.y, self.sources, self.soft)


def resize_faces(x: np.ndarray, size: int) -> np.ndarray:
    import cv2

    interp = cv2.INTER_AREA if size < x.shape[1] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(face, (size, size), interpolation=interp) for face in x]) if len(x) else \
        np.zeros((0, size, size), np.uint8)


def _class_index(folder_name: str) -> int | None:
    name = folder_name.strip().lower()
    aliases = {"anger": "angry", "happiness": "happy", "sadness": "sad", "disgusted": "disgust",
               "fearful": "fear", "surprised": "surprise"}
    name = aliases.get(name, name)
    return EMOTIONS.index(name) if name in EMOTIONS else None


def _decode_gray(data: bytes, path: Path) -> np.ndarray:
    """One face as grey pixels, decoded as every image of the tool is (`fer_core.io.decode_image`: within its
    pixel bound, truncation noticed); DatasetError in one sentence for a file that is none or too big."""
    import cv2

    from ..errors import InvalidImageError
    from ..io import decode_image

    try:
        return cv2.cvtColor(decode_image(data, name="it"), cv2.COLOR_BGR2GRAY)
    except InvalidImageError as error:  # "it is 40000x40000 pixels, more than ...", "it is empty ..."
        raise DatasetError(f"Cannot read the image {path}: {error}") from None


def load_folder(root: str | Path, size: int = FER2013_SIZE, min_classes: int = 2) -> FaceDataset:
    """Read `root/<emotion>/*` into memory, each face resized to `size` x `size` grayscale."""
    import cv2

    root = Path(root)
    if not root.exists():
        raise DatasetError(f"The dataset folder {root} does not exist.")
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of class folders (expected {root}/happy/*.jpg, ...).")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))
    # A zip often wraps everything in one top folder: descend into it.
    if len(class_dirs) == 1 and _class_index(class_dirs[0].name) is None:
        return load_folder(class_dirs[0], size=size, min_classes=min_classes)
    unknown = [p.name for p in class_dirs if _class_index(p.name) is None]
    if unknown:
        raise DatasetError(
            f"Unknown class folder(s) {', '.join(sorted(unknown))} in {root}; class folders must be named "
            f"after the emotions: {', '.join(EMOTIONS)}.")
    if len(class_dirs) < min_classes:
        raise DatasetError(
            f"{root} has {len(class_dirs)} class folder(s); training needs at least {min_classes} "
            f"(folders named {', '.join(EMOTIONS)}).")
    faces, labels, sources = [], [], []
    for class_dir in class_dirs:
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if not images:
            raise DatasetError(f"The class folder {class_dir} has no images (.jpg, .png, ...).")
        label = _class_index(class_dir.name)
        for path in images:
            img = _decode_gray(path.read_bytes(), path)
            if img.shape != (size, size):
                interp = cv2.INTER_AREA if min(img.shape) > size else cv2.INTER_LINEAR
                img = cv2.resize(img, (size, size), interpolation=interp)
            faces.append(img)
            labels.append(label)
            sources.append(str(path))
    return FaceDataset(np.stack(faces).astype(np.uint8), np.asarray(labels, np.int64), sources)


def load_fer2013_csv(path: str | Path, usage: str | tuple[str, ...] | None = None,
                     size: int = FER2013_SIZE, min_classes: int = 2) -> FaceDataset:
    """Read the Kaggle FER2013 CSV (`emotion,pixels,Usage`; 48x48 = 2304 space-separated pixels a row).

    `usage` keeps only rows whose Usage is in it (e.g. "Training", or ("PublicTest",)); the Usage column
    may be missing, in which case every row is kept.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"The CSV file {path} does not exist.")
    wanted = (usage,) if isinstance(usage, str) else usage
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        raise DatasetError(f"Cannot read {path} as a text CSV file ({exc.__class__.__name__}).") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise DatasetError(f"The CSV file {path} is empty.")
    header = [h.strip() for h in header]
    if header[:2] != ["emotion", "pixels"] or (len(header) > 2 and header[2] != "Usage"):
        raise DatasetError(
            f"{path} does not look like the FER2013 CSV: its header is '{','.join(header)}', "
            f"expected 'emotion,pixels,Usage'.")
    n_pix = FER2013_SIZE * FER2013_SIZE
    faces, labels, sources = [], [], []
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        row_usage = row[2].strip() if len(row) > 2 else ""
        if wanted and row_usage not in wanted:
            continue
        try:
            label = int(row[0])
            pixels = np.array(row[1].split(), dtype=np.int64)
        except (ValueError, IndexError):
            raise DatasetError(f"{path}, line {line_no}: the emotion must be an integer and the pixels "
                               f"space-separated integers.") from None
        if not 0 <= label < len(EMOTIONS):
            raise DatasetError(f"{path}, line {line_no}: emotion {label} is outside 0-{len(EMOTIONS) - 1}.")
        if pixels.size != n_pix or pixels.min() < 0 or pixels.max() > 255:
            raise DatasetError(f"{path}, line {line_no}: expected {n_pix} pixel values between 0 and 255, "
                               f"got {pixels.size}.")
        faces.append(pixels.astype(np.uint8).reshape(FER2013_SIZE, FER2013_SIZE))
        labels.append(label)
        sources.append(f"{path.name}:{line_no}:{row_usage}")
    if not faces:
        which = f" with Usage {'/'.join(wanted)}" if wanted else ""
        raise DatasetError(f"The CSV file {path} has no rows{which}.")
    ds = FaceDataset(np.stack(faces), np.asarray(labels, np.int64), sources)
    if len(ds.present_classes()) < min_classes:
        raise DatasetError(f"{path} holds {len(ds.present_classes())} class(es); training needs at least "
                           f"{min_classes}.")
    return ds.resized(size)


def load_dataset(path: str | Path, size: int = FER2013_SIZE, usage: str | tuple[str, ...] | None = None,
                 min_classes: int = 2) -> FaceDataset:
    """A class-folder tree or a FER2013-format CSV, by what `path` is."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return load_fer2013_csv(path, usage=usage, size=size, min_classes=min_classes)
    if path.is_file():
        raise DatasetError(f"{path} is neither a folder of class folders nor a FER2013 .csv file.")
    return load_folder(path, size=size, min_classes=min_classes)


def extract_zip(data: bytes, dest: str | Path, name: str = "The upload", max_bytes: int = MAX_ZIP_BYTES,
                max_files: int = MAX_ZIP_FILES) -> Path:
    """Unpack an uploaded zip of class folders safely (`fer_core.archives.extract_zip`), with its messages
    raised as `DatasetError`; returns `dest`."""
    return archives.extract_zip(data, dest, name, max_bytes, max_files, error=DatasetError)


def source_key(source: str) -> str:
    """`.../Training/angry/Training_1426440.jpg` -> `training_1426440.jpg`: how stored targets name a face."""
    return Path(source).name.lower()


def match_rows(keys: list[str], sources: list[str]) -> np.ndarray:
    """The row of `keys` that holds each face of `sources` (-1 where none does), matched by file name.

    File names are not quite unique: FER2013 Training has two that occur in two class folders each, with
    different faces (Training_52789098.jpg in neutral and surprise, Training_8475486.jpg in angry and surprise).
    So a key that names its class folder (`angry/training_8475486.jpg`, as the FER+ CSV's paths do) matches
    only the face in that folder. A bare name that occurs more than once (stored targets keep bare names)
    matches in order of occurrence: save_soft_targets writes faces in the dataset's order, class folders
    sorted, so the k-th face of that name in the dataset gets the k-th row.
    """
    by_folder: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        path = Path(str(key).lower())
        if len(path.parts) > 1:
            by_folder[f"{path.parent.name}/{path.name}"] = row
        else:
            by_name.setdefault(path.name, []).append(row)
    seen: dict[str, int] = {}
    rows = np.full(len(sources), -1, dtype=np.int64)
    for i, source in enumerate(sources):
        path = Path(source)
        name = source_key(source)
        row = by_folder.get(f"{path.parent.name.lower()}/{name}")
        if row is None and name in by_name:
            k = seen.get(name, 0)
            seen[name] = k + 1
            candidates = by_name[name]
            row = candidates[k] if k < len(candidates) else None
        rows[i] = -1 if row is None else row
    return rows


def ferplus_soft_labels(votes_csv: str | Path, dataset: FaceDataset, weight: float = 0.5) -> np.ndarray:
    """Blend each face's one-hot FER2013 label with its FER+ vote distribution.

    target = (1 - weight) * onehot(label) + weight * votes / sum(votes) over the seven FER2013 classes
    (contempt, unknown and not-a-face votes are ignored). Faces without FER+ votes keep their one-hot label.
    """
    path = Path(votes_csv)
    if not path.exists():
        raise DatasetError(f"The FER+ votes file {path} does not exist.")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        col = "votes_neutral_happiness_surprise_sadness_anger_disgust_fear_contempt"
        if not reader.fieldnames or "file" not in reader.fieldnames or col not in reader.fieldnames:
            raise DatasetError(f"{path} does not look like the FER+ votes CSV (it needs the columns file and {col}).")
        files: list[str] = []
        votes: list[np.ndarray] = []
        for row in reader:
            counts = np.array(row[col].split(), dtype=np.float64)
            dist = np.zeros(len(EMOTIONS))
            for src, dst in enumerate(FERPLUS_TO_EMOTIONS):
                dist[dst] = counts[src]
            if dist.sum() > 0:
                files.append(row["file"])
                votes.append(dist / dist.sum())
    rows = match_rows(files, dataset.sources)
    has_votes = rows >= 0
    if not has_votes.any():
        raise DatasetError(f"None of the training faces has FER+ votes in {path} (files are matched by class "
                           f"folder and name, e.g. angry/Training_1426440.jpg).")
    onehot = np.eye(len(EMOTIONS))[dataset.y]
    soft = onehot.copy()
    soft[has_votes] = (1.0 - weight) * onehot[has_votes] + weight * np.asarray(votes)[rows[has_votes]]
    return soft.astype(np.float32)


def split_validation(ds: FaceDataset, fraction: float, seed: int = 0) -> tuple[FaceDataset, FaceDataset]:
    """Stratified split: `fraction` of every class (at least one face of each class with 2+) to validation."""
    if not 0 < fraction < 1:
        raise DatasetError(f"The validation split must be between 0 and 1, got {fraction}.")
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(ds.y):
        idx = np.flatnonzero(ds.y == c)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        else:
            n_val = 0
        val_idx.extend(idx[:n_val].tolist())
    val_mask = np.zeros(len(ds), bool)
    val_mask[val_idx] = True
    if not val_mask.any():
        raise DatasetError("The dataset is too small to hold out a validation split; give a --val folder.")
    return ds.subset(np.flatnonzero(~val_mask)), ds.subset(np.flatnonzero(val_mask))


GROUPINGS = {
    "subfolder": "the folder inside each class folder (happy/S005/001.png: S005)",
    "prefix": "the file name up to its first _, - or space (S005_001_00000011.png: S005)",
}
"""How `face_groups` tells which faces belong together (one subject, one video sequence)."""


def face_groups(ds: FaceDataset, how: str) -> list[str]:
    """The group of every face, by `how` (a key of GROUPINGS), read from its source path.

    Frames of one sequence or photos of one person are near-copies of each other: split at random, some land
    in validation with their twins in training, and the validation accuracy measures memory, not skill
    (CK+-style data scored 100 %). Whole groups must go to one side (`split_by_group`).
    """
    import re

    if how not in GROUPINGS:
        raise DatasetError(f"Unknown grouping '{how}'; choose one of {', '.join(GROUPINGS)}.")
    groups = []
    for source in ds.sources:
        path = Path(source)
        if how == "prefix":
            groups.append(re.split(r"[_\- ]", path.stem, maxsplit=1)[0].lower())
            continue
        parts = path.parts[:-1]
        below = next((parts[i + 1] for i in range(len(parts) - 1, -1, -1) if _class_index(parts[i]) is not None
                      and i + 1 < len(parts)), "")
        groups.append(below)
    if how == "subfolder" and not any(groups):
        raise DatasetError("The class folders hold no subfolders to group the faces by (e.g. happy/S005/001.png); "
                           "group them by file-name prefix, or split at random.")
    return groups


def split_by_group(ds: FaceDataset, groups: list[str], fraction: float, seed: int = 0) -> tuple[FaceDataset, FaceDataset]:
    """Whole groups to validation (groups in random order until about `fraction` of the faces), the rest to
    training: no group on both sides. Faces without a group (an empty name) count as a group each."""
    if not 0 < fraction < 1:
        raise DatasetError(f"The validation split must be between 0 and 1, got {fraction}.")
    names = [g or f"\0{i}" for i, g in enumerate(groups)]
    unique = sorted(set(names))
    if len(unique) < 2:
        raise DatasetError(f"All {len(ds)} faces are in one group ({unique[0] if unique else 'none'}): there is no "
                           "second group to validate on. Split at random, or give the faces a group each.")
    order = np.random.default_rng(seed).permutation(len(unique))
    sizes = {g: 0 for g in unique}
    for g in names:
        sizes[g] += 1
    target, taken, val_groups = fraction * len(ds), 0, set()
    for i in order:
        if taken >= target or len(val_groups) == len(unique) - 1:
            break
        val_groups.add(unique[i])
        taken += sizes[unique[i]]
    val_mask = np.array([g in val_groups for g in names])
    return ds.subset(np.flatnonzero(~val_mask)), ds.subset(np.flatnonzero(val_mask))


def near_duplicates(train_x: np.ndarray, val_x: np.ndarray, threshold: float = 0.95, limit: int = 2000) -> int:
    """How many validation faces (of the first `limit`) have a near-copy among the training faces.

    Faces are compared as 16x16 thumbnails, each centred and scaled to unit length (so brightness and
    contrast do not matter): a correlation above `threshold` is a near-copy (consecutive frames of one
    video; the same photo shifted by a pixel). In FER2013 PublicTest 1.8 % of faces pass it (most of them
    the dataset's known duplicates); a share well above that means twins on both sides of the split.
    """
    def vectors(x: np.ndarray) -> np.ndarray:
        small = resize_faces(np.asarray(x, np.uint8), 16).reshape(len(x), -1).astype(np.float32)
        small -= small.mean(axis=1, keepdims=True)
        return small / np.maximum(np.linalg.norm(small, axis=1, keepdims=True), 1e-6)

    if not len(train_x) or not len(val_x):
        return 0
    val = vectors(val_x[:limit])
    best = np.full(len(val), -1.0, np.float32)
    for start in range(0, len(train_x), 4096):
        best = np.maximum(best, (vectors(train_x[start:start + 4096]) @ val.T).max(axis=0))
    return int((best > threshold).sum())


# ------------------------------------------------------------------------------ stored teacher targets
def save_soft_targets(path: str | Path, sources: list[str], probs: np.ndarray, teachers: list[str]) -> Path:
    """Store a teacher's probabilities by face file name (float16: FER2013 Training takes about 0.6 MB)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, keys=np.array([source_key(s) for s in sources]), probs=probs.astype(np.float16),
                        teachers=np.array(list(teachers)), classes=np.array(EMOTIONS))
    return path


ONLINE_TEACHER_MARK = 1.0 / 7
"""The teacher columns of a training face whose teacher answers online (`--teacher-model`): any row that sums
to 1 tells the loss a teacher is there; the teacher's answer itself comes from the training model's output."""


def combine_targets(labels: np.ndarray, teacher: np.ndarray | None = None) -> np.ndarray:
    """(N, 7) label distributions + optional (N, 7) teacher probabilities -> (N, 14) training targets.

    The layout `distillation.DistillationLoss` reads: labels first, then the teacher (all zero without one).
    """
    teacher = np.zeros_like(labels) if teacher is None else teacher
    return np.concatenate([labels, teacher], axis=1).astype(np.float32)


def load_soft_targets(path: str | Path, dataset: FaceDataset) -> np.ndarray:
    """The stored probabilities of every face of `dataset`, in its order (every face must have a row)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"The teacher targets file {path} does not exist.")
    try:
        with np.load(path) as data:
            keys, probs = data["keys"], data["probs"].astype(np.float32)
    except (OSError, ValueError, KeyError):
        raise DatasetError(f"{path} is not a teacher targets file (an .npz with keys and probs).") from None
    if probs.ndim != 2 or probs.shape[1] != len(EMOTIONS):
        raise DatasetError(f"{path} holds {probs.shape[1:]} probabilities per face; expected {len(EMOTIONS)}.")
    rows = match_rows([str(k) for k in keys], dataset.sources)
    missing = np.flatnonzero(rows < 0)
    if len(missing):
        raise DatasetError(f"{len(missing)} of {len(dataset)} training faces have no teacher probabilities in "
                           f"{path.name} (e.g. {Path(dataset.sources[missing[0]]).name}); export them for this "
                           f"training set.")
    probs = probs[rows]
    return probs / probs.sum(axis=1, keepdims=True)
