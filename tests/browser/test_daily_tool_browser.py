"""The dashboard as a daily tool (issue 27, items 1 and 2), in a real browser against `streamlit run`:
training leaves the server as it found it (no TensorFlow in the server process, its memory back within a
bound), shows what it does at once, and Stop keeps a model with a result that fits the page; a Video run goes on through a sidebar change and its results stay through a
visit to another page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import assert_no_errors, open_page, snap, tables_fit, wait_idle

pytestmark = pytest.mark.browser

TENSORFLOW_LIBRARIES = ("libtensorflow_framework", "libtensorflow_cc", "_pywrap_tensorflow_internal")
RSS_BOUND_MB = 200  # one training in the server itself added about 600 MB that never came back


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def tensorflow_loaded(pid: int) -> list[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return sorted({name for name in TENSORFLOW_LIBRARIES if name in maps})


def navigate(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.click()
    page.locator("h1", has_text=name).first.wait_for()
    wait_idle(page)


def test_training_runs_outside_the_server_and_stop_keeps_a_model(browser, fresh_server, tmp_path, screenshots):
    """A fresh server: the page says what is going on at once (before TensorFlow has even loaded); a 50-epoch
    run stopped after its first epoch keeps that epoch's model, listed, with a result that stands beside the
    base model and fits the page; the server never loaded TensorFlow and holds about the memory it had before."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, base_url=str(fresh_server))
    page.set_default_timeout(30_000)
    try:
        open_page(page, "Training", "Training")
        before = rss_mb(fresh_server.pid)
        page.locator('[data-testid="stTextInput"]', has_text="Model name").locator("input").fill("stopped_in_browser")
        page.keyboard.press("Enter")
        wait_idle(page)
        epochs = page.locator('[data-testid="stSlider"]', has_text="Epochs").get_by_role("slider")
        epochs.focus()
        epochs.press("End")  # 50 epochs: far more than the test waits for
        wait_idle(page)
        page.get_by_role("button", name="Train", exact=True).click()
        page.locator('[data-testid="stExpander"]', has_text=re.compile(
            "Reading the bundled sample|Checking the faces|Loading TensorFlow")).first.wait_for(timeout=5_000)
        page.get_by_text(re.compile(r"Training: epoch \d+ of 50 done")).first.wait_for(timeout=240_000)
        page.get_by_role("button", name="Stop").click()
        page.get_by_text(re.compile(r"Stopped after \d+ of 50 epochs")).wait_for(timeout=120_000)
        wait_idle(page, 60)
        assert page.get_by_text("3. Result").count() == 1
        page.locator('[data-testid="stMetric"]', has_text="Base model, same faces").first.wait_for(timeout=60_000)
        page.get_by_text("Only 14 validation faces").first.wait_for(timeout=60_000)
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
        page.locator(".js-plotly-plot .xtick text").first.wait_for()
        ticks = page.locator(".js-plotly-plot .xtick text").all_text_contents()
        assert ticks and all(re.fullmatch(r"\d+", t.strip()) for t in ticks), ticks
        tables_fit(page)
        assert_no_errors(page)
        snap(page, screenshots / "training_result.png")
        assert json.loads((tmp_path / "user_models" / "stopped_in_browser" / "training.json").read_text())[
            "stopped_early"] is True
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        assert page.get_by_role("option", name=re.compile("^stopped_in_browser")).count() == 1
        page.keyboard.press("Escape")
        assert tensorflow_loaded(fresh_server.pid) == []
        after = rss_mb(fresh_server.pid)
        assert after - before < RSS_BOUND_MB, f"server RSS {before:.0f} -> {after:.0f} MB"
    finally:
        page.close()


def test_a_video_run_goes_on_through_a_sidebar_change_and_stays_through_another_page(page):
    open_page(page, "Video", "Video")
    page.get_by_test_id("stRadioGroup").get_by_text("Sample video", exact=True).click()
    wait_idle(page)
    every = page.get_by_label("Analyse every Nth frame", exact=True).and_(page.locator("input"))
    every.fill("1")
    every.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Analyse video").click()
    page.get_by_role("button", name="Stop").wait_for()
    page.locator('[data-testid="stSidebar"]').get_by_text("Mirror test-time augmentation").click()
    page.get_by_text("goes on with the ones it started with").or_(page.get_by_text("Results: ")).first.wait_for()
    page.get_by_text("Results: ").first.wait_for(timeout=120_000)
    wait_idle(page)
    analysed = page.locator('[data-testid="stMetric"]', has_text="Frames analysed").inner_text()
    assert "72 / 72" in analysed, analysed  # every frame, as the run started (not cut short by the click)
    assert page.get_by_text("Settings changed since this run").count() == 1
    navigate(page, "Image")  # in the app, as a visitor does (a new URL would be a new session)
    navigate(page, "Video")
    page.get_by_text("Results: ").first.wait_for()
    assert page.locator('[data-testid="stMetric"]', has_text="Frames analysed").inner_text() == analysed
    assert_no_errors(page)
