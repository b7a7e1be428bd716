"""The dashboard as a user meets it (issue 12), in headless Chromium against `streamlit run` started as `make run`
starts it: each test is something a browser review found wrong, checked the way a user would see it."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
from helpers import assert_no_errors, launch, open_page, snap, tables_fit, wait_idle

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
def pick(page, label: str, option: str, scope: str = "") -> None:
    """Choose `option` in the selectbox labelled `label`."""
    page.locator(f'{scope} [data-testid="stSelectbox"]', has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


# --- 1. an idle server stays idle -----------------------------------------------------------------------

def test_server_started_as_make_run_watches_no_files(page, app_server):
    """The file watcher put recursive inotify watches on the whole checkout (.venv included) and kept a core
    busy with a tab open; started as `make run` starts it, the server holds no inotify instance at all."""
    open_page(page, "", "Emotion Recognition")
    fds = Path(f"/proc/{app_server.pid}/fd")
    targets = [os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink()]
    assert targets, "the server's open files can be listed"
    assert not [t for t in targets if "inotify" in t], "the server watches files"


# --- 7. offline; and a bookmarked page on a fresh server --------------------------------------------------

def test_first_visit_by_address_then_every_page_stays_on_this_machine(browser, fresh_server, screenshots):
    """A bookmark opened right after `make run` gets the app's frame; then every page, and no request leaves
    127.0.0.1 (the tab icon came from fonts.gstatic.com)."""
    from dashboard.navigation import PAGES

    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=fresh_server)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_page(page, "Video", "Video")
        links = page.locator('[data-testid="stSidebarNav"] a')
        names = [links.nth(i).inner_text().strip().splitlines()[-1] for i in range(links.count())]
        assert names == [p.title for p in PAGES], "the app's menu, not Streamlit's pages/ folder listing"
        radius = page.locator(".fer-legend .fer-chip").first.evaluate("e => getComputedStyle(e).borderRadius")
        assert radius not in ("", "0px"), "app.py's look applied"
        for info in [*PAGES[1:], PAGES[0]]:
            links.filter(has_text=info.title).first.click()
            page.locator("h1", has_text="Emotion Recognition" if info is PAGES[0] else info.title).first.wait_for()
            wait_idle(page, 60)
            if info.title == "Model Explorer":
                page.locator('[data-testid="stDataFrame"]').first.wait_for()
                tables_fit(page)
                page.locator('[role="tab"]', has_text="Model card").click()
                page.get_by_text("At a glance").wait_for()
                tables_fit(page)
            if info is PAGES[0]:
                page.get_by_role("button", name="Try on a sample photo").click()
                page.locator(".fer-chip", has_text="Happy").first.wait_for()
                wait_idle(page)
        # The model's whole name is readable in the sidebar, not cut off.
        from fer_core.models import get_model

        caption = page.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]',
                               has_text=get_model(None).title).first
        assert caption.is_visible() and caption.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        icon = page.evaluate("document.querySelector(\"link[rel='shortcut icon']\").href")
        assert icon.startswith(fresh_server), icon
        assert_no_errors(page)
        snap(page, screenshots / "home_fresh_server.png")
    finally:
        context.close()
    outside = [url for url in requests
               if not url.startswith(("data:", "blob:")) and urlparse(url).hostname != "127.0.0.1"]
    assert len(requests) > 20 and not outside, f"requests left this machine: {outside}"


# --- 2. annotations and big photos -----------------------------------------------------------------------

def test_big_group_photo_is_downscaled_once_and_its_table_fits(page, tmp_path, screenshots):
    """A 42.7-megapixel group photo: analysed and shown at 2048 pixels (said under the picture), five faces,
    the results table within its card."""
    from PIL import Image

    big = tmp_path / "group_42mp.jpg"
    Image.open(SAMPLES / "photos" / "unlabelled_multi_face.jpg").resize((8000, 5336), Image.Resampling.BICUBIC) \
        .save(big, quality=88)
    open_page(page, "Image", "Image")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(big))
    page.get_by_text("a 8000x5336 photo, analysed and shown at 2048x1366").wait_for(timeout=60_000)
    wait_idle(page, 60)
    assert page.locator(".fer-chip", has_text="5. ").count() == 1
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    tables_fit(page)
    assert_no_errors(page)
    snap(page, screenshots / "image_big_group.png")


# --- 3. no phantom faces ---------------------------------------------------------------------------------

def test_a_brief_false_detection_is_not_a_face(page, screenshots):
    """The Haar cascade at its loosest (1 neighbour) sees a 'face' for a third of a second before the real one
    enters `noface_face.mov`: one face followed, the brief one named and not charted."""
    open_page(page, "Video", "Video")
    pick(page, "Face detector", "OpenCV Haar cascade (haar)", '[data-testid="stSidebar"]')
    page.get_by_text("Detector parameters").click()
    neighbours = page.locator('[data-testid="stSlider"]', has_text="Min. neighbours")
    neighbours.get_by_role("slider").focus()
    neighbours.get_by_role("slider").press("Home")
    wait_idle(page)
    assert neighbours.locator('[data-testid="stSliderThumbValue"]').inner_text().strip() == "1"
    page.get_by_test_id("stRadioGroup").get_by_text("Sample video").click()
    wait_idle(page)
    pick(page, "Sample video", "noface face")
    page.get_by_role("button", name="Analyse video").click()
    page.get_by_text("Results: noface_face.mov").wait_for(timeout=90_000)
    wait_idle(page, 60)
    followed = page.locator('[data-testid="stMetric"]', has_text="Faces followed")
    assert followed.locator('[data-testid="stMetricValue"]').inner_text().strip() == "1"
    assert page.get_by_text("1 brief detection (under 5 analysed frames or 0.5 s) not counted").count() == 1
    assert page.locator('[role="tab"]', has_text="Face ").count() == 0, "one face: no tab per face"
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    tables_fit(page)
    assert_no_errors(page)
    snap(page, screenshots / "video_brief_detection.png")


# --- 4. messages name the upload; progress never outlives a run ------------------------------------------

def test_corrupt_video_leaves_no_progress_bar(page, tmp_path):
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(os.urandom(50_000))
    open_page(page, "Video", "Video")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    wait_idle(page)
    page.get_by_role("button", name="Analyse video").click()
    error = page.locator('[data-testid="stAlertContentError"]')
    error.first.wait_for()
    wait_idle(page)
    assert error.count() == 1 and "noise.mp4" in error.first.inner_text()
    assert page.locator('[data-testid="stProgress"]').count() == 0, "a progress bar stayed above the error"


def _faces_zip(classes: tuple[str, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for emotion in classes:
            for path in sorted((SAMPLES / "fer2013_mini" / emotion).glob("*.jpg"))[:3]:
                archive.write(path, f"my_faces/{emotion}/{path.name}")
    return buffer.getvalue()


def test_training_errors_name_the_upload_not_the_server(page, tmp_path):
    upload = tmp_path / "my_faces.zip"
    upload.write_bytes(_faces_zip(("happy",)))
    open_page(page, "Training", "Training")
    page.get_by_text("Upload a zip of class folders").click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
    wait_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    error = page.locator('[data-testid="stAlertContentError"]')
    error.first.wait_for(timeout=60_000)
    wait_idle(page)
    text = error.first.inner_text()
    assert "my_faces.zip" in text and "1 class folder" in text
    assert "/tmp" not in text and "fer-train" not in text, text
    assert page.get_by_text("Checking the faces").count() == 0, "the run's status stayed above the error"


# --- 5. training: activity at once, the base model beside the new one, a result that fits: in
#        test_daily_tool_browser.py, on the run that is stopped there.

# --- 6. Model Explorer: Explain follows the face shown ----------------------------------------------------

def test_explain_follows_the_face_shown(page):
    open_page(page, "Model_Explorer", "Model Explorer")
    page.locator('[class*="st-key-explorer_open_"] button[kind="tertiary"]:visible').nth(3).click()  # a face up close
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Occlusion map", exact=False).first.wait_for()
    wait_idle(page)
    model_says = dialog.locator(".fer-chip").filter(has=page.locator("small")).first.inner_text()
    explain = dialog.locator('[data-testid="stSelectbox"]', has_text="Explain").first.evaluate(
        "e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")
    assert model_says.split()[0].rstrip("0123456789%") in explain, (model_says, explain)


# --- 8. webcam without a usable camera ------------------------------------------------------------------

@pytest.mark.parametrize("camera", ["denied", "missing"])
def test_webcam_says_what_to_do_without_a_camera(playwright, y4m_file, app_url, camera):
    """Permission denied (headless Chromium refuses the prompt), or no camera at all: one sentence and the
    next step beside the stream, not only the browser's raw 'NotAllowedError: Permission denied'."""
    args = (["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m_file}"]
            if camera == "denied" else ["--use-fake-ui-for-media-stream"])
    expected = {"denied": "did not allow this page to use the camera", "missing": "No camera was found"}[camera]
    browser = launch(playwright, *args)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, base_url=app_url)
        page.set_default_timeout(30_000)
        open_page(page, "Webcam", "Webcam")
        page.frame_locator('iframe[title*="webrtc"]').get_by_role("button", name="START").click()
        message = page.locator('[data-testid="stAlertContentError"]', has_text=expected)
        message.first.wait_for()
        assert "START" in message.first.inner_text() or "Video page" in message.first.inner_text()
        page.get_by_role("link", name="Analyse a video file instead").first.wait_for()
        wait_idle(page)
        assert page.locator('[data-testid="stAlertContentError"]').count() == 1
    finally:
        browser.close()
