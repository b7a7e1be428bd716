"""End to end: every page in headless Chromium against `streamlit run`, an image upload, a sample video run,
and the webcam page with Chromium's fake camera. Screenshots: test-output/screenshots/."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from helpers import assert_no_errors, open_page, snap, wait_idle

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
PAGES = [
    ("", "Emotion Recognition", "home"),
    ("Image", "Image", "image"),
    ("Video", "Video", "video"),
    ("Webcam", "Webcam", "webcam"),
    ("Model_Explorer", "Model Explorer", "model_explorer"),
]


@pytest.mark.parametrize("path,title,shot", PAGES, ids=[p[2] for p in PAGES])
def test_page_loads_without_errors(page, screenshots, path, title, shot):
    open_page(page, path, title)
    if shot == "model_explorer":
        page.locator('[data-testid="stMetricValue"]').first.wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
    if shot == "home":
        page.get_by_role("button", name="Try on a sample photo").click()
        page.locator(".fer-chip", has_text="Happy").first.wait_for()
        wait_idle(page)
        page.locator('[data-testid="stImage"] img').first.wait_for()
    page.wait_for_timeout(500)  # let plotly finish drawing
    assert_no_errors(page)
    snap(page, screenshots / f"{shot}.png")


def test_image_upload_shows_happy(page, screenshots):
    open_page(page, "Image", "Image")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        str(REPO / "samples" / "photos" / "happy_astronaut.png"))
    page.locator(".fer-chip", has_text="1. Happy").first.wait_for()
    wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(500)
    assert_no_errors(page)
    snap(page, screenshots / "image_upload.png")


def test_image_upload_of_a_non_image_shows_one_error(page, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    open_page(page, "Image", "Image")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    error = page.locator('[data-testid="stAlertContentError"]')
    error.first.wait_for()
    assert error.count() == 1 and "broken.jpg" in error.first.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_video_sample_runs(page, screenshots):
    open_page(page, "Video", "Video")
    page.get_by_test_id("stRadioGroup").get_by_text("Sample video").click()
    wait_idle(page)
    page.get_by_role("button", name="Analyse video").click()
    page.get_by_text("Results: single_face.mp4").wait_for(timeout=60_000)
    wait_idle(page, 60)
    page.locator("video").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(800)
    assert_no_errors(page)
    snap(page, screenshots / "video_results.png")


def test_video_page_records_a_stream(page, screenshots, stream_server):
    """An MPEG-TS stream from a local HTTP server, typed in as a camera's address would be."""
    open_page(page, "Video", "Video")
    page.get_by_test_id("stRadioGroup").get_by_text("Network stream").click()
    wait_idle(page)
    address = page.get_by_label("Stream address", exact=True).and_(page.get_by_role("textbox"))
    address.fill(stream_server.url.replace("http://", "http://viewer:s3cret@") + "/single_face.ts")
    address.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Record stream").click()
    shown = stream_server.url.replace("http://", "http://viewer:***@") + "/single_face.ts"
    page.get_by_text(f"Results: {shown}", exact=True).wait_for(timeout=60_000)
    wait_idle(page, 60)
    page.locator("video").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(800)
    assert_no_errors(page)
    assert "s3cret" not in page.locator('[data-testid="stMain"]').inner_text()
    snap(page, screenshots / "video_stream_results.png")


def _start_stream(page) -> bool:
    """Press START in the streamlit-webrtc iframe; True once a detected face's label shows beside it."""
    frame = page.frame_locator('iframe[title*="webrtc"]')
    frame.get_by_role("button", name="START").click()
    try:
        page.locator(".fer-chip", has_text="#").first.wait_for(timeout=20_000)
        return True
    except Exception:  # noqa: BLE001 - about one start in 14 fails here: stop and retry
        stop = frame.get_by_role("button", name="STOP")
        if stop.count():
            stop.click()
        page.reload()
        page.locator("h1", has_text="Webcam").first.wait_for()
        return False


def test_webcam_stream_shows_an_emotion(page, screenshots):
    open_page(page, "Webcam", "Webcam")
    assert any(_start_stream(page) for _ in range(3)), "the webcam stream never showed a face"
    label = page.locator(".fer-chip", has_text="#").first.inner_text()
    assert any(e in label for e in ("Happy", "Neutral", "Sad", "Surprise", "Angry", "Fear", "Disgust"))
    page.locator(".js-plotly-plot").nth(1).wait_for()  # probability chart and rolling timeline
    page.wait_for_timeout(2500)
    video = page.frame_locator('iframe[title*="webrtc"]').locator("video").first
    assert video.evaluate("v => v.readyState >= 2 && !v.paused && v.videoWidth > 0"), "the annotated stream is not playing"
    assert_no_errors(page)
    snap(page, screenshots / "webcam_live.png")

    page.frame_locator('iframe[title*="webrtc"]').get_by_role("button", name="STOP").click()
    page.get_by_text("Session summary").wait_for()
    wait_idle(page)
    page.wait_for_timeout(500)
    assert_no_errors(page)
    snap(page, screenshots / "webcam_summary.png")


def _connect_network_camera(page, address: str) -> None:
    """Open the Webcam page, choose the network camera and give its address; wait until it is checked."""
    open_page(page, "Webcam", "Webcam")
    page.get_by_test_id("stRadioGroup").get_by_text("A network camera").click()
    wait_idle(page)
    field = page.get_by_label("Camera address", exact=True).and_(page.get_by_role("textbox"))
    field.fill(address)
    field.press("Enter")
    page.get_by_text("Connected to ").wait_for(timeout=30_000)


def _watch_network_camera(page, address: str, save: bool = False) -> bool:
    """Connect the network camera (saving its rows if asked) and press START; True once a face's label shows."""
    _connect_network_camera(page, address)
    if save:
        page.get_by_text("Save every row on this computer as it comes").click()
        wait_idle(page)
    return _start_stream(page)


def test_webcam_page_plays_a_network_camera_live(page, screenshots, stream_server):
    """An MPEG-TS stream from a local HTTP server as an IP camera: the server reads it, and the browser shows it
    annotated, with live labels, and a summary whose downloads name the camera without its password."""
    address = stream_server.url.replace("http://", "http://viewer:s3cret@") + "/single_face.ts"
    watched = any(_watch_network_camera(page, address, save=True) for _ in range(3))
    assert watched, "the network camera never showed a face"
    label = page.locator(".fer-chip", has_text="#").first.inner_text()
    assert any(e in label for e in ("Happy", "Neutral"))
    snap(page, screenshots / "webcam_network_camera_live.png")
    assert page.get_by_label("Camera address", exact=True).and_(page.get_by_role("textbox")).is_disabled()
    page.get_by_text("the camera has stopped sending, or its stream has ended").wait_for(timeout=20_000)  # 2.4 s long
    page.frame_locator('iframe[title*="webrtc"]').get_by_role("button", name="STOP").click()
    page.get_by_text("Session summary").wait_for()
    wait_idle(page)
    assert page.get_by_label("Camera address", exact=True).and_(page.get_by_role("textbox")).is_enabled()
    metrics = page.get_by_test_id("stMetric")
    assert "Faces followed1" in metrics.filter(has_text="Faces followed").first.inner_text().replace("\n", "")
    with page.expect_download() as download:
        page.get_by_role("button", name="Results (CSV)").click()
    table = download.value.path().read_text()
    assert download.value.suggested_filename.startswith("network_camera")
    assert "viewer:***@" in table and "s3cret" not in table + page.locator('[data-testid="stMain"]').inner_text()
    saved_note = page.get_by_text("Every row of the session is in ").inner_text()
    saved = Path(saved_note.split(" is in ", 1)[1].split(". Open it", 1)[0])
    try:  # the growing CSV the session wrote on the server: the same rows as the page's download
        assert saved.read_text() == table
    finally:
        saved.unlink(missing_ok=True)
    assert_no_errors(page)
    snap(page, screenshots / "webcam_network_camera_summary.png")


def test_a_network_camera_gone_after_its_check_is_one_sentence(page, tmp_path):
    """The camera answered the address check, then went away before START: one sentence naming it without
    its password, no traceback, and "Try again"."""
    from sample_media import serve_stream

    served = serve_stream(tmp_path)
    stream = tmp_path / "single_face.ts"
    recording = stream.read_bytes()
    address = served.url.replace("http://", "http://viewer:s3cret@") + "/single_face.ts"
    shown = served.url.replace("http://", "http://viewer:***@") + "/single_face.ts"

    def start_after_the_camera_went_away() -> bool:
        stream.write_bytes(recording)
        _connect_network_camera(page, address)
        stream.unlink()  # the camera is gone
        page.frame_locator('iframe[title*="webrtc"]').get_by_role("button", name="START").click()
        try:
            page.get_by_text(f"The camera {shown} did not answer when START was pressed").wait_for(timeout=20_000)
            return True
        except Exception:  # noqa: BLE001 - about one START in 14 never reaches the server: try again
            return False

    try:
        assert any(start_after_the_camera_went_away() for _ in range(3))
        page.get_by_role("button", name="Try again").wait_for()
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert "Traceback" not in main and "s3cret" not in main
        assert page.get_by_test_id("stException").count() == 0
    finally:
        served.server.shutdown()


def test_model_explorer_face_playground_and_card(page, screenshots):
    open_page(page, "Model_Explorer", "Model Explorer")
    page.locator('[class*="st-key-explorer_open_"] button[kind="tertiary"]').first.click()  # a face up close
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Robustness playground").wait_for()
    dialog.get_by_text("Mirror", exact=True).click()  # a playground control: reruns the dialog
    wait_idle(page)
    dialog.get_by_text("Changed face", exact=True).wait_for()
    dialog.locator('[data-testid="stImage"] img').nth(3).wait_for()
    page.wait_for_timeout(500)
    assert_no_errors(page)
    snap(page, screenshots / "model_explorer_face.png")
    page.keyboard.press("Escape")
    wait_idle(page)
    page.locator('[role="tab"]', has_text="Model card").click()
    page.get_by_text("At a glance").wait_for()
    page.wait_for_timeout(300)
    assert_no_errors(page)
    snap(page, screenshots / "model_explorer_card.png")


def test_video_stop_mid_run_keeps_nothing_running(page, tmp_path, screenshots):
    """A longer video: Stop ends the run and keeps the frames analysed so far (their results on the page, as the
    CLI keeps them on Ctrl-C), and the upload's temporary files are gone."""
    import glob

    import av

    source = REPO / "samples" / "videos" / "single_face.mp4"
    long_video = tmp_path / "long_face.mp4"
    with av.open(str(source)) as src:
        frames = [f.to_ndarray(format="bgr24") for f in src.decode(video=0)]
    with av.open(str(long_video), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for _ in range(8):
            for image in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)

    tmp = tempfile.gettempdir()  # the server's too: it inherits this process's TMPDIR
    before = set(glob.glob(f"{tmp}/fer-upload-*")) | set(glob.glob(f"{tmp}/fer-output-*"))
    open_page(page, "Video", "Video")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(long_video))
    wait_idle(page)
    page.get_by_role("button", name="Analyse video").click()
    page.get_by_text("s left").first.wait_for()
    snap(page, screenshots / "video_progress.png")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("results cover the").wait_for()
    wait_idle(page)
    assert page.get_by_text("Results: long_face.mp4").count() == 1
    assert_no_errors(page)
    time.sleep(0.5)
    # This run's upload only: other test runs on the machine may have files of their own there meanwhile.
    after = set(glob.glob(f"{tmp}/fer-upload-*/long_face.mp4"))
    assert after <= {f"{folder}/long_face.mp4" for folder in before}, f"temporary files left: {after}"
