"""Screenshots of the dashboard for the README, taken from the real app so that they stay current.

Starts `streamlit run app.py` exactly as `make run` does (its flags read from the Makefile) on a free port of
127.0.0.1, drives Debian's headless Chromium with Playwright (no browser download), waits for each page's
results to be on screen and its script run to end (not for a fixed time), and writes small PNGs to
docs/images/. Run it with `make screenshots` (or `.venv/bin/python tools/screenshots.py [--only NAME]`).
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]

from benchmarks.common import stop_process, wait_idle  # noqa: E402  (one definition of "a run has ended")
from helpers import ERRORS, chromium_path, launch  # noqa: E402  (the Chromium switches that work here)

OUT = ROOT / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 820}
WIDTH = 1100       # pixels wide in the README: readable on GitHub, small files
MAX_BYTES = 300_000
FAILED = ROOT / "test-output" / "screenshots-failed"  # what a page showed when its screenshot failed


def run_command(port: int) -> list[str]:
    """`streamlit run ...` as `make run` starts it, on this Python and the given port."""
    out = subprocess.run(["make", "-s", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    args = shlex.split(next(line for line in out.splitlines() if "streamlit run " in line))
    return [sys.executable, "-m", "streamlit", *args[args.index("run"):], "--server.port", str(port)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log: Path, user_models: Path) -> tuple[subprocess.Popen, str]:
    """The app on a free port, answering its health check; models trained on the Training page would go to
    `user_models` (an empty folder), so the model list is the shipped one."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "FER_USER_MODELS_DIR": str(user_models)}
    proc = subprocess.Popen(run_command(port), cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: streamlit exited early; see {log}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop_process(proc)
    raise SystemExit(f"error: streamlit did not start within 90 s; see {log}")


def open_page(page, path: str, title: str) -> None:
    page.goto(f"/{path}")
    page.locator("h1", has_text=title).first.wait_for()
    wait_idle(page)


def clip_between(page, top, bottom, pad: int = 12, sidebar: bool = True) -> dict:
    """A clip from the top of locator `top` to the bottom of locator `bottom`, across the main area and
    (if `sidebar`) the sidebar; the viewport is first stretched to the page's height (Streamlit scrolls inside its main
    container, so only what is laid out in the viewport can be captured)."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"]')].map(e => e.scrollHeight))")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(600)  # plotly redraws at the new size
    wait_idle(page)
    a, b = top.bounding_box(), bottom.bounding_box()
    y = max(a["y"] - pad, 0)
    x = 0 if sidebar else page.get_by_test_id("stSidebar").bounding_box()["width"]
    return {"x": x, "y": y, "width": VIEWPORT["width"] - x, "height": b["y"] + b["height"] + pad - y}


def image_page(page) -> dict | None:
    """The Image page on the bundled group photo: boxes and labels, the crops the model saw, each face's chips."""
    open_page(page, "Image", "Image")
    page.get_by_test_id("stRadioGroup").get_by_text("Sample photo").click()
    wait_idle(page)
    page.get_by_test_id("stSelectbox").filter(has_text="Sample photo").click()
    page.get_by_role("option", name="unlabelled multi face").click()
    page.locator(".fer-chip", has_text="5.").first.wait_for(timeout=60_000)
    wait_idle(page)
    page.locator('[data-testid="stImage"] img').first.wait_for()
    return clip_between(page, page.locator("h1", has_text="Image").first, page.get_by_text("In this photo:"))


def video_page(page) -> dict | None:
    """The Video page's results on the bundled clip: the metrics, the annotated video, the share of time and
    the emotion timeline."""
    open_page(page, "Video", "Video")
    page.get_by_test_id("stRadioGroup").get_by_text("Sample video").click()
    wait_idle(page)
    page.get_by_role("button", name="Analyse video").click()
    results = page.get_by_text("Results: single_face.mp4")
    results.wait_for(timeout=120_000)
    wait_idle(page, 120)
    page.locator("video").first.wait_for()
    timeline = page.get_by_text("Emotion over time", exact=True)
    timeline.wait_for()
    charts = page.locator(".js-plotly-plot")
    charts.nth(1).wait_for()
    return clip_between(page, results, charts.last, sidebar=False)


def model_explorer(page) -> dict | None:
    """The Model Explorer as it opens: the model evaluated on the bundled labelled faces, down to its first
    chart (the confusion matrix)."""
    open_page(page, "Model_Explorer", "Model Explorer")
    page.locator(".js-plotly-plot").or_(page.locator(ERRORS)).first.wait_for(timeout=120_000)
    wait_idle(page, 120)
    return clip_between(page, page.locator("h1", has_text="Model Explorer").first,
                        page.locator(".js-plotly-plot").first)


@dataclass(frozen=True)
class Shot:
    name: str                                  # docs/images/<name>.png
    take: Callable[[object], dict | None]      # drives the page; a clip, or None for the viewport


SHOTS = [Shot("image_page", image_page), Shot("video_page", video_page), Shot("model_explorer", model_explorer)]


def save_small(png: bytes, path: Path) -> int:
    """Scale to WIDTH pixels and, if still over MAX_BYTES, reduce to 256 colours (UI flats stay exact)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > WIDTH:
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    data = encode_png(image)
    if len(data) > MAX_BYTES:
        data = encode_png(image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    path.write_bytes(data)
    return len(data)


def encode_png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def take(browser, url: str, shot: Shot) -> bool:
    """One screenshot in a fresh browser context; False (and one line, and what the page showed, under
    test-output/) when the page did not get there."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport=VIEWPORT, base_url=url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        clip = shot.take(page)
        if page.locator(ERRORS).count():
            raise PlaywrightError("the page shows an error")
        png = page.screenshot(clip=clip) if clip else page.screenshot()
    except PlaywrightError as error:
        seen = FAILED / f"{shot.name}.png"
        seen.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(seen), full_page=True)
        print(f"error: {shot.name}: {str(error).splitlines()[0]} (the page as it was: {seen.relative_to(ROOT)})",
              file=sys.stderr)
        return False
    finally:
        context.close()
    path = OUT / f"{shot.name}.png"
    print(f"{path.relative_to(ROOT)}: {save_small(png, path) / 1000:.0f} KB")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=[s.name for s in SHOTS],
                        help="take only this screenshot (repeatable)")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print("error: Debian's chromium is not installed (run `make browser-deps`).", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    shots = [s for s in SHOTS if not args.only or s.name in args.only]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="fer-screens-") as tmp:
        proc, url = start_server(ROOT / "test-output" / "screenshots-server.log", Path(tmp) / "user_models")
        try:
            with sync_playwright() as p:
                browser = launch(p)
                try:
                    for shot in shots:
                        failed += not take(browser, url, shot)
                finally:
                    browser.close()
        finally:
            stop_process(proc)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
