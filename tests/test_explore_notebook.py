"""examples/explore_a_model.ipynb runs from top to bottom on the bundled sample (so it cannot rot)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "explore_a_model.ipynb"


def test_the_notebook_runs_and_shows_its_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_EXPLORE_CACHE", str(tmp_path / "cache"))  # the kernel inherits it
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "accuracy" in text and "McNemar p" in text and "faces.parquet" in text
    assert sum("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs) == 2
    assert (tmp_path / "cache").is_dir()
