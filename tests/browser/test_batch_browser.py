"""The Batch page in headless Chromium against `streamlit run`: a small batch of the bundled samples run on a
real local Dask cluster from the page, with its progress, then its results. Screenshot:
test-output/screenshots/batch_results.png."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import assert_no_errors, current, open_page, snap, wait_idle

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]


def test_batch_page_runs_samples_on_a_local_cluster(page, screenshots, tmp_path):
    """Nothing is chosen at first; three bundled samples and a zip of a photo and a video (in a folder) run
    together, videos every second frame."""
    name = f"browser-test-{os.getpid()}"
    out = Path(os.environ.get("FER_BATCH_ROOT") or REPO / "batch_results") / name
    try:
        open_page(page, "Batch", "Batch")
        page.get_by_test_id("stRadioGroup").get_by_text("Run a batch").click()
        wait_idle(page)
        assert page.get_by_role("button", name="Run batch").is_disabled()
        _pick_samples(page, ["happy posed", "unlabelled multi face", "face noface"])
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(_trip_zip(tmp_path)))
        page.get_by_test_id("stFileUploader").get_by_text("trip.zip", exact=True).wait_for()
        wait_idle(page)
        every = page.get_by_label("Video: every Nth frame", exact=True).and_(page.locator("input"))
        every.fill("2")
        every.press("Enter")
        wait_idle(page)
        name_box = page.get_by_label("Results folder", exact=True).and_(page.locator("input"))
        name_box.fill(name)
        name_box.press("Enter")
        wait_idle(page)
        workers = page.get_by_label("Local workers", exact=True).and_(page.locator("input"))
        workers.fill("1")
        workers.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Run batch").click()
        page.get_by_text(f"Results: {name}").wait_for(timeout=120_000)
        wait_idle(page, 60)
        assert page.get_by_text("5 of 5 inputs analysed").count() == 1
        page.locator(".js-plotly-plot").nth(1).wait_for()  # the emotion mix and a video's timeline
        page.wait_for_timeout(800)
        assert_no_errors(page)
        snap(page, screenshots / "batch_results.png")
        assert (out / "files.parquet").is_file()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_batch_page_opens_a_results_table_from_the_command_line(page, screenshots, tmp_path):
    """A CSV written by `emotion_recognition.py --results`, uploaded on the page: figures, mix and timeline."""
    import io

    from fer_core.cli import main
    from sample_media import PHOTOS, VIDEOS

    folder = tmp_path / "visit"
    folder.mkdir()
    shutil.copy(PHOTOS / "unlabelled_multi_face.jpg", folder / "group.jpg")
    shutil.copy(VIDEOS / "single_face.mp4", folder / "hello.mp4")
    table = tmp_path / "visit.csv"
    assert main(["--input", str(folder), "--results", str(table)], out=io.StringIO()) == 0
    open_page(page, "Batch", "Batch")
    page.get_by_test_id("stRadioGroup").get_by_text("Open a results table").click()
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(table))
    page.get_by_text("Results: visit.csv").wait_for(timeout=60_000)
    wait_idle(page, 30)
    page.locator(".js-plotly-plot").nth(1).wait_for()  # the emotion mix and the video's timeline
    page.wait_for_timeout(800)
    assert_no_errors(page)
    snap(page, screenshots / "batch_results_table.png")


def test_batch_page_follows_a_results_table_as_it_grows(page, tmp_path):
    """A CSV on this computer that the command line is still writing: followed, the page shows its new rows
    within FOLLOW_SECONDS without being touched."""
    import io

    from dashboard.table_view import FOLLOW_SECONDS
    from fer_core.cli import main
    from sample_media import VIDEOS

    table = tmp_path / "door.csv"
    assert main(["--input", str(VIDEOS / "single_face.mp4"), "--results", str(table)], out=io.StringIO()) == 0
    lines = table.read_bytes().splitlines(keepends=True)
    head = 1 + sum(line.startswith(b"#") for line in lines)  # the provenance comment line and the header
    table.write_bytes(b"".join(lines[:head + 20]))  # 20 rows so far
    open_page(page, "Batch", "Batch")
    page.get_by_test_id("stRadioGroup").get_by_text("Open a results table").click()
    wait_idle(page)
    field = page.get_by_label("Or a results table's path on this computer", exact=True).and_(page.locator("input"))
    field.fill(str(table))
    field.press("Enter")
    page.get_by_text("Results: door.csv").wait_for(timeout=30_000)
    page.get_by_text("Follow it").click()
    wait_idle(page)
    rows = current(page, "stMetric").filter(has_text="Rows")
    assert rows.inner_text().replace("\n", "").endswith("20")
    table.write_bytes(b"".join(lines))  # the rest arrives
    page.wait_for_function(f"() => [...document.querySelectorAll('[data-testid=stMetric]')].some("
                           f"m => m.innerText.includes('Rows') && m.innerText.trim().endsWith('{len(lines) - head}'))",
                           timeout=(FOLLOW_SECONDS + 15) * 1000)
    assert_no_errors(page)


def _pick_samples(page, names: list[str]) -> None:
    """Choose bundled samples in the page's multiselect, one rerun at a time.

    A choice made while a rerun is under way can be dropped, by Streamlit itself (streamlit/streamlit#9036,
    widgets losing state when used during a rerun); on a loaded machine a rerun can start after wait_idle's quiet
    spell, and an earlier choice has gone from the box by the time the last is made (seen twice in parallel
    runs). So, as a user would, the box is looked at again once everything settled, and what is missing is
    chosen again."""
    box = page.get_by_test_id("stMultiSelect").filter(has_text="Bundled samples")
    for _ in range(4):
        missing = [name for name in names if not box.get_by_text(name, exact=True).count()]
        if not missing:
            break
        for name in missing:
            box.locator("input").click()
            page.get_by_role("option", name=name, exact=True).click()
            page.keyboard.press("Escape")
            wait_idle(page)
    chosen = box.inner_text()
    for name in names:
        assert box.get_by_text(name, exact=True).count() == 1, f"{name!r} is not among the chosen: {chosen!r}"


def _trip_zip(folder: Path) -> Path:
    """A zip as a user makes one: a photo and a video in a folder, and a file that is neither."""
    import zipfile

    from sample_media import PHOTOS, VIDEOS

    path = folder / "trip.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(PHOTOS / "surprise_posed.jpg", "trip/surprise.jpg")
        archive.write(VIDEOS / "single_face.mp4", "trip/hello.mp4")
        archive.writestr("trip/notes.txt", "from the trip")
    return path
