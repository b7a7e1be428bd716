"""The Model Explorer end to end in headless Chromium against `streamlit run`: a confusion-matrix cell click
fills the gallery with exactly that cell's faces, a face click opens it up close, an uploaded labelled zip is
evaluated, an embedding-map selection filters the gallery, and a bad folder gets one sentence while the set
on show stays. Screenshots: test-output/screenshots/explorer_*.png."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from helpers import assert_no_errors, open_page, snap, wait_idle

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "fer2013_sample"
EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FACE = '[class*="st-key-explorer_tile_"]'
OPEN = '[class*="st-key-explorer_open_"] button[kind="tertiary"]:visible'


def open_explorer(page) -> None:
    open_page(page, "Model_Explorer", "Model Explorer")
    page.locator(FACE).first.wait_for()
    wait_idle(page)


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def gallery_faces(page) -> list[tuple[str, str]]:
    """(button label, caption) of every face on the gallery's page."""
    faces = page.locator(FACE)
    return [(faces.nth(i).locator(OPEN).first.inner_text().strip(),
             faces.nth(i).locator('[data-testid="stCaptionContainer"]').inner_text().strip())
            for i in range(faces.count())]


def choose_set_kind(page, name: str) -> None:
    page.locator(".st-key-explorer_set_kind button", has_text=name).click()
    wait_idle(page)


def test_a_confusion_cell_click_fills_the_gallery_with_its_faces(page, screenshots):
    open_explorer(page)
    chart = page.locator(".st-key-explorer_cm .js-plotly-plot")
    chart.wait_for()
    # The cell (true Sad, predicted Neutral): points are laid out row by row (true), then column (predicted).
    true, predicted = EMOTIONS.index("sad"), EMOTIONS.index("neutral")
    cell = chart.locator(".scatterlayer .trace .points path.point").nth(true * 7 + predicted)
    count = int(chart.evaluate(f"gd => gd.data[0].customdata[{true * 7 + predicted}][2]"))
    assert 0 < count <= 48, "a cell small enough to fit on one gallery page"
    box = cell.bounding_box()  # a click where a user clicks: Plotly's drag layer lies above the markers
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_idle(page)
    page.get_by_text("true Sad, predicted Neutral").first.wait_for()
    faces = gallery_faces(page)
    assert len(faces) == count
    assert all(caption == "true Sad" and "Neutral" in label for label, caption in faces), faces
    assert_no_errors(page)
    snap(page, screenshots / "explorer_confusion_drill.png")
    page.get_by_role("button", name="Clear").click()
    wait_idle(page)
    assert page.get_by_text(re.compile(r"^Showing ")).count() == 0
    assert len(gallery_faces(page)) == 48, "every face again, one page of them"


def test_a_face_click_opens_it_up_close(page, screenshots):
    open_explorer(page)
    first = page.locator(FACE).first
    label = first.locator(OPEN).first.inner_text().strip()
    first.locator(OPEN).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Occlusion map", exact=False).first.wait_for()
    wait_idle(page)
    assert label.split()[1] in dialog.inner_text(), "the model's label for the face clicked"
    dialog.get_by_role("tab", name=re.compile("Every model")).click()
    dialog.locator('[data-testid="stDataFrame"]').wait_for()
    assert_no_errors(page)
    snap(page, screenshots / "explorer_close_up.png")


def _labelled_zip(per_class: int = 4, classes: tuple[str, ...] = ("happy", "sad", "surprise")) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for label in classes:
            for path in sorted((SAMPLE / label).iterdir())[:per_class]:
                z.write(path, f"my_faces/{label}/{path.name}")
    return buffer.getvalue()


def test_an_uploaded_labelled_zip_is_evaluated(page, tmp_path, screenshots):
    open_explorer(page)
    zip_path = tmp_path / "my_faces.zip"
    zip_path.write_bytes(_labelled_zip())
    choose_set_kind(page, "Upload a zip")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(zip_path))
    page.get_by_text(re.compile(r"on my_faces \(12 images\)")).wait_for(timeout=60_000)
    wait_idle(page)
    assert metric(page, "Faces") == "12"
    assert len(gallery_faces(page)) == 12
    assert {caption for _, caption in gallery_faces(page)} == {"true Happy", "true Sad", "true Surprise"}
    assert_no_errors(page)
    snap(page, screenshots / "explorer_zip.png")
    with page.expect_download() as download:
        page.locator(".st-key-explorer_dl_csv button:visible").first.click()
    import pandas as pd

    table = pd.read_csv(download.value.path())
    assert len(table) == 12 and set(table["true_label"]) == {"happy", "sad", "surprise"}
    assert {"p_happy", "raw_p_happy", "predicted", "confidence", "correct", "blur"} <= set(table.columns)


def test_an_embedding_map_selection_filters_the_gallery(page, screenshots):
    open_explorer(page)
    page.get_by_role("tab", name=re.compile("Embedding map")).click()
    chart = page.locator(".st-key-explorer_map .js-plotly-plot")
    chart.wait_for()
    wait_idle(page)
    box = chart.locator(".nsewdrag").first.bounding_box()
    # A lasso around the middle of the map.
    cx, cy, rx, ry = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / 5, box["height"] / 5
    page.mouse.move(cx - rx, cy - ry)
    page.mouse.down()
    for x, y in [(cx + rx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry), (cx - rx, cy - ry + 2)]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    wait_idle(page)
    text = page.get_by_text(re.compile(r"faces chosen on the map")).first.inner_text()
    chosen = int(re.search(r"([\d,]+) faces chosen", text).group(1).replace(",", ""))
    assert chosen > 0
    assert len(gallery_faces(page)) == min(chosen, 48)
    assert_no_errors(page)
    snap(page, screenshots / "explorer_map.png")


def test_a_folder_that_does_not_exist_gets_one_sentence_and_the_set_stays(page):
    open_explorer(page)
    faces = metric(page, "Faces")
    choose_set_kind(page, "Folder on the server")
    field = page.locator(".st-key-explorer_folder input")
    field.fill("data/no_such_folder")
    field.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Evaluate").click()
    wait_idle(page)
    error = page.locator('[data-testid="stAlertContentError"]')
    error.wait_for()
    assert error.count() == 1 and "no_such_folder" in error.inner_text()
    assert error.inner_text().strip().count(". ") == 0, "one sentence"
    assert metric(page, "Faces") == faces, "the set on show stays"
    assert page.get_by_test_id("stException").count() == 0
