"""The dashboard's pages, in menu order: one list that `app.py` registers with `st.navigation` and the home
page links to. A new page is one file in `pages/` and one entry here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class PageInfo:
    path: str  # relative to app.py
    title: str
    icon: str  # a Material icon, which renders the same on every machine
    description: str = ""

    @property
    def url_path(self) -> str:
        """The page's address: its file name without the order number (pages/4_Model_Explorer.py ->
        /Model_Explorer), as Streamlit's own pages/ folder named them, so old links keep working."""
        return re.sub(r"^\d+_", "", PurePosixPath(self.path).stem)


HOME = PageInfo("pages/0_Home.py", "Home", ":material/home:")
PAGES: tuple[PageInfo, ...] = (
    HOME,
    PageInfo("pages/1_Image.py", "Image", ":material/image:",
             "Photos: boxes, labels, the model's view of each face, charts, CSV, JSON and Parquet."),
    PageInfo("pages/2_Video.py", "Video", ":material/movie:",
             "Videos and network streams: emotion over time per face, share of time, an annotated video."),
    PageInfo("pages/5_Batch.py", "Batch", ":material/folder_copy:",
             "Archives on a Dask cluster, and results tables from the command line: summaries, the emotion mix."),
    PageInfo("pages/3_Webcam.py", "Webcam", ":material/videocam:",
             "Live: your camera or a network camera, with labels, probabilities and a rolling timeline."),
    PageInfo("pages/4_Model_Explorer.py", "Model Explorer", ":material/biotech:",
             "How good is the model, what does it look at, and what breaks it."),
    PageInfo("pages/6_Training.py", "Training", ":material/model_training:",
             "Train or fine-tune a model on your own labelled faces."),
)
