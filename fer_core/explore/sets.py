"""Labelled sets: the faces the explorer evaluates a model on, as class folders on disk.

A labelled set is a folder of class folders (`angry/ ... neutral/`, any case, a missing class is fine)
holding either face crops (FER2013-style: small, square, one face filling the picture) or whole photos,
which go through the normal detector. `open_folder` reads a folder on the server, `open_zip` an uploaded
zip (unpacked with the Training page's safe reader: no path escapes, bounded size and member count), and
`bundled_sample` the labelled FER2013 faces that ship with the project.

Whether a set is crops or photos is decided from its images (`looks_like_crops`), because a user who
brings a folder should not have to know how the classifier wants its input; `detect=` overrides it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from ..emotions import EMOTIONS
from ..errors import DatasetError
from ..io import IMAGE_EXTENSIONS
from ..models import REPO_ROOT

SetKind = Literal["crops", "photos"]

BUNDLED_SAMPLE = REPO_ROOT / "samples" / "fer2013_sample"
"""50 FER2013 PublicTest faces per class (disgust included: PublicTest has 56), with their FER+ votes."""

CROP_MAX_SIDE = 100
"""Images at most this many pixels on their long side and about square are taken to be face crops."""

CROP_MAX_ASPECT = 1.25
"""Longest side over shortest side: a crop is about square (FER2013's are exactly 48x48)."""

CROP_SHARE = 0.9
"""A set is crops when at least this share of the images looked at are crop-sized."""

SNIFF_IMAGES = 64
"""How many images (spread over the set) are opened to decide crops or photos: headers only, milliseconds."""

MAX_ZIP_MB = 500
MAX_ZIP_FILES = 50_000


@dataclass(frozen=True)
class LabelledItem:
    """One labelled image: where it is and the class folder it sits in (one of EMOTIONS)."""

    path: Path
    label: str


@dataclass
class LabelledSet:
    """Labelled images under `root` and whether they are face crops or whole photos.

    `name` is what tables and pages call the set ("bundled sample", the folder's or the zip's name).
    """

    name: str
    root: Path
    items: list[LabelledItem]
    kind: SetKind = "crops"
    _hash: str | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def detect(self) -> bool:
        """Whether the detector runs: whole photos need it, crops are the face already."""
        return self.kind == "photos"

    def relative(self, item: LabelledItem) -> str:
        """The item's path relative to the set's root, with forward slashes (the table's `file`)."""
        return item.path.relative_to(self.root).as_posix()

    def class_counts(self) -> dict[str, int]:
        counts = {e: 0 for e in EMOTIONS}
        for item in self.items:
            counts[item.label] += 1
        return counts

    def content_hash(self) -> str:
        """A digest of every file's bytes, path and label: the same faces give the same cache entry even when
        a zip is unpacked again into a new folder, and an edited file gives a new one."""
        if self._hash is None:
            digest = hashlib.blake2b(digest_size=16)
            for item in self.items:
                digest.update(f"{self.relative(item)}\0{item.label}\0".encode())
                digest.update(item.path.read_bytes())
            self._hash = digest.hexdigest()
        return self._hash


def _class_folders(root: Path) -> dict[str, Path]:
    return {p.name.lower(): p for p in sorted(root.iterdir()) if p.is_dir() and p.name.lower() in EMOTIONS}


def _find_root(path: Path) -> Path:
    """The folder that holds the class folders: `path` itself, or its only sub-folder (a zip often wraps
    everything in one top folder)."""
    if _class_folders(path):
        return path
    subfolders = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))]
    if len(subfolders) == 1 and _class_folders(subfolders[0]):
        return subfolders[0]
    return path


def looks_like_crops(paths: list[Path]) -> bool:
    """True when nearly all of (a spread of) the images are small and about square, like FER2013's 48x48
    faces; otherwise they are photos in which the detector must find the face."""
    if not paths:
        return True
    step = max(1, len(paths) // SNIFF_IMAGES)
    sample = paths[::step][:SNIFF_IMAGES]
    small = 0
    for path in sample:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (OSError, ValueError):
            continue
        if max(width, height) <= CROP_MAX_SIDE and max(width, height) <= CROP_MAX_ASPECT * min(width, height):
            small += 1
    return small >= CROP_SHARE * len(sample)


def _sentence(text: str) -> str:
    """"the upload" opens a sentence as "The upload"; a file or folder name keeps its own spelling."""
    return "The" + text[3:] if text.startswith("the ") else text


def open_folder(path: str | Path, name: str | None = None, detect: bool | None = None,
                shown: str | None = None) -> LabelledSet:
    """The labelled set in a folder of class folders (`angry/ ... neutral/`; a missing class is fine).

    `detect=None` decides crops or photos from the images; True or False says so. Raises `DatasetError`
    (one sentence, naming the folder as `shown`, default its path) for a path that does not exist, a folder
    without class folders, or a class folder without images.
    """
    path = Path(path)
    shown = shown or str(path)
    if not path.exists():
        raise DatasetError(f"{_sentence(shown)} does not exist.")
    if not path.is_dir():
        raise DatasetError(f"{_sentence(shown)} is not a folder of class folders ({', '.join(EMOTIONS)}).")
    root = _find_root(path)
    folders = _class_folders(root)
    if not folders:
        raise DatasetError(f"{_sentence(shown)} has none of the class folders {', '.join(EMOTIONS)}.")
    items: list[LabelledItem] = []
    for label in EMOTIONS:
        if label not in folders:
            continue
        images = [p for p in sorted(folders[label].iterdir())
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
        if not images:
            raise DatasetError(f"The class folder {folders[label].name} in {shown} has no images "
                               f"({', '.join(sorted(IMAGE_EXTENSIONS))}).")
        items += [LabelledItem(p, label) for p in images]
    kind: SetKind
    if detect is None:
        kind = "crops" if looks_like_crops([i.path for i in items]) else "photos"
    else:
        kind = "photos" if detect else "crops"
    return LabelledSet(name=name or path.name, root=root, items=items, kind=kind)


def open_zip(source: bytes | str | Path, workdir: str | Path, name: str | None = None,
             detect: bool | None = None, max_mb: int = MAX_ZIP_MB, max_files: int = MAX_ZIP_FILES) -> LabelledSet:
    """The labelled set in a zip of class folders, unpacked under `workdir` with the Training page's safe
    reader (`fer_core.training.data.extract_zip`): no member may leave `workdir`, at most `max_files` members
    and `max_mb` unpacked (counted on the bytes actually inflated), honest one-sentence `DatasetError`s that
    name the zip as `name` (an upload's file name; default "the upload", or the zip file's name)."""
    from ..training.data import extract_zip

    if isinstance(source, (str, Path)):
        zip_path = Path(source)
        if not zip_path.is_file():
            raise DatasetError(f"{zip_path} does not exist.")
        label = name or zip_path.name
        data = zip_path.read_bytes()
    else:
        label = name or "the upload"
        data = bytes(source)
    folder = extract_zip(data, Path(workdir), name=_sentence(label), max_bytes=max_mb * 2**20, max_files=max_files)
    set_name = Path(label).stem if label != "the upload" else "upload"
    return open_folder(folder, name=set_name, detect=detect, shown=label)


def bundled_sample() -> LabelledSet:
    """The labelled FER2013 faces that ship with the project (samples/fer2013_sample: 50 PublicTest faces
    per class, 350 in all, with their FER+ votes beside them)."""
    return open_folder(BUNDLED_SAMPLE, name="bundled sample", detect=False)
