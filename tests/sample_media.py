"""Paths to the real sample media in the repo (a plain module: `conftest` names clash across test folders)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "samples" / "photos"
VIDEOS = ROOT / "samples" / "videos"
FER_MINI = ROOT / "samples" / "fer2013_mini"
