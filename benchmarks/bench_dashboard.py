"""The dashboard's first page render after `streamlit run app.py` (target < 3 s on a warm machine).

    .venv/bin/python -m benchmarks.bench_dashboard [--runs 3]

What "first page renders" means here, measured from the moment `streamlit run` is started (t = 0) on a
free 127.0.0.1 port (--server.headless true --browser.gatherUsageStats false
--server.fileWatcherType none):
- health_s: /_stcore/health answers "ok" (the server is up; nothing of the app has run yet);
- html_s: GET / returns the page shell (static HTML + JS bundle; still no app content);
- first_render_s: a headless Chromium (Debian's, through Playwright, launched before t = 0 and not
  counted) that opens the page as soon as the server is healthy sees the home page's first visible
  heading inside the main area, i.e. app.py has run and its content is on screen. This is the figure
  the target refers to. `script_s` is the part after the browser asked for the page.
One warm-up start is not counted (a "warm machine": files in the page cache); the figures are medians.
Without Chromium or Playwright only health_s and html_s are measured.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.common import PROJECT_PYTHON, ROOT, load, stop_process, write_result

CHROMIUM = next((p for p in (os.environ.get("FER_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser")
                 if p and Path(p).exists()), None)
CONTENT = '[data-testid="stMain"] :is(h1, h2, h3, h4) >> visible=true'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read()
    except OSError:
        return None


def one_start(browser=None, timeout: float = 60) -> dict:
    port = free_port()
    python = str(PROJECT_PYTHON if PROJECT_PYTHON.exists() else sys.executable)
    cmd = [python, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    url = f"http://127.0.0.1:{port}"
    out: dict = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while (get(url + "/_stcore/health") or b"").strip() != b"ok":
            if proc.poll() is not None or time.perf_counter() - t0 > timeout:
                raise RuntimeError("streamlit did not start")
            time.sleep(0.02)
        out["health_s"] = round(time.perf_counter() - t0, 3)
        if browser is not None:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            t_ask = time.perf_counter()
            page.goto(url, wait_until="commit", timeout=timeout * 1000)
            page.locator(CONTENT).first.wait_for(state="visible", timeout=timeout * 1000)
            now = time.perf_counter()
            out["first_render_s"] = round(now - t0, 3)
            out["script_s"] = round(now - t_ask, 3)
            context.close()
        t = time.perf_counter()
        html = get(url + "/")
        out["html_s"] = round(out["health_s"] + (time.perf_counter() - t), 3) if html else None
    finally:
        stop_process(proc)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    load_start = load()
    result: dict = {"load_at_start": load_start, "method": __doc__.split("\n\n", 2)[2].strip(), "runs": []}
    playwright_cm = browser = None
    try:
        if CHROMIUM:
            from playwright.sync_api import sync_playwright

            playwright_cm = sync_playwright().start()
            browser = playwright_cm.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
    except Exception as error:  # noqa: BLE001
        result["browser"] = f"unavailable: {type(error).__name__}: {error}"
        browser = None
    try:
        one_start(browser)  # warm-up, not counted
        for _ in range(args.runs):
            result["runs"].append(one_start(browser))
    finally:
        if browser is not None:
            browser.close()
        if playwright_cm is not None:
            playwright_cm.stop()
    for key in ("health_s", "html_s", "first_render_s", "script_s"):
        values = [r[key] for r in result["runs"] if r.get(key) is not None]
        if values:
            result[f"median_{key}"] = round(statistics.median(values), 3)
    result["headline"] = {"first_render_s": result.get("median_first_render_s"), "health_s": result.get("median_health_s"),
                          "target_s": 3.0, "met": (result.get("median_first_render_s") or 99) < 3.0}
    return write_result("bench_dashboard", result)


if __name__ == "__main__":
    main()
