"""The Video page's run lives in the session, not in the script run (AppTest): a sidebar change mid-run does
not stop it and the page says it goes on with the settings it started with; Stop keeps the frames analysed so
far, with their table; leaving for the Image page and coming back keeps the input and the results."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
PAGE = "pages/2_Video.py"


def open_video() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE).run()
    at.radio(key="video_source").set_value("Sample video").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def wait(at: AppTest, until, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not until(at):
        assert time.time() < deadline, "the analysis did not get there in time"
        time.sleep(0.2)
        at.run()
        assert not at.exception, [e.value for e in at.exception]


def job(at: AppTest):
    return at.session_state["video_job"]["job"] if "video_job" in at.session_state else None


def test_a_sidebar_change_mid_run_does_not_stop_it_and_stop_keeps_the_frames_so_far():
    at = open_video()
    at.number_input(key="video_every").set_value(1)
    at.button(key="video_go").click().run()
    running = job(at)
    assert running is not None
    at.sidebar.toggle(key="_sb_tta").set_value(True).run()  # a setting changes while it runs
    assert job(at) is running and running.running
    assert any("goes on with the ones it started with" in c.value for c in at.caption)
    wait(at, lambda at: job(at) is None or job(at).done >= 10)
    assert job(at) is not None, "the analysis ended before Stop"
    at.button(key="video_stop").click().run()
    wait(at, lambda at: job(at) is None)
    stored = at.session_state["video_result"]
    analysis = stored["analysis"]
    assert stored["stopped_by_user"] and analysis.stopped
    assert 10 <= analysis.frames_analysed < 72 and len(analysis.table)
    assert any("results cover the" in i.value for i in at.info)
    assert any(b.label.startswith("CSV") or "CSV" in b.label for b in at.get("download_button"))


def test_leaving_for_another_page_keeps_the_input_and_the_results():
    at = open_video()
    at.selectbox(key="video_sample").set_value(at.selectbox(key="video_sample").options[0])
    at.number_input(key="video_every").set_value(3)
    at.button(key="video_go").click().run()
    wait(at, lambda at: job(at) is None)
    assert any(h.value.startswith("Results") for h in at.subheader)
    at.switch_page("pages/1_Image.py").run()
    at.switch_page(PAGE).run()
    assert at.radio(key="video_source").value == "Sample video"
    assert at.number_input(key="video_every").value == 3
    assert any(h.value.startswith("Results") for h in at.subheader)


def test_the_image_page_keeps_its_photo_through_a_visit_to_another_page():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/1_Image.py").run()
    at.radio(key="image_source").set_value("Sample photo").run()
    options = at.selectbox(key="image_sample").options
    other = next(o for o in options if o != at.selectbox(key="image_sample").value)
    at.selectbox(key="image_sample").set_value(other).run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(PAGE).run()
    at.switch_page("pages/1_Image.py").run()
    assert at.radio(key="image_source").value == "Sample photo"
    assert at.selectbox(key="image_sample").value == other
