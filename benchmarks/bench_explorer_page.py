"""The Model Explorer page on a large set, as a user meets it in a browser (targets: a gallery page or filter
change < 1 s, the embedding map < 15 s).

    .venv/bin/python -m benchmarks.bench_explorer_page [--folder data/PublicTest] [--changes 5]

`streamlit run app.py` on a free 127.0.0.1 port, Debian's headless Chromium through Playwright. The page opens
the folder (typed as a folder on the server; its evaluation comes from the library's disk cache when an earlier
run made it: `open_s` says how long that took), then:
- page_change_s: a click on the gallery's next page until the new page's first face is on screen;
- filter_change_s: a click on "Wrong" / "All" (right or wrong) until the gallery shows the new faces;
- map_draw_s: a click on the Embedding map tab until Plotly has drawn the map (PCA, the layout a set this
  large opens on; `tsne_draw_s` is the t-SNE layout, clicked after it).
Each is the time the browser waited, server and drawing included; medians over `--changes` changes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import urllib.request

from benchmarks.bench_dashboard import CHROMIUM, free_port
from benchmarks.common import PROJECT_PYTHON, ROOT, stop_process, wait_idle, write_result

TILE = '[class*="st-key-explorer_tile_"]'
FIRST_TILE_JS = f"""() => {{ const t = document.querySelector('{TILE}');
  return t ? [...t.classList].find(c => c.startsWith('st-key-explorer_tile_')) : null; }}"""


def _timed_change(page, click) -> float:
    """Seconds from `click()` until the gallery's first face is another one."""
    before = page.evaluate(FIRST_TILE_JS)
    start = time.perf_counter()
    click()
    page.wait_for_function(f"(b) => ({FIRST_TILE_JS})() !== b && ({FIRST_TILE_JS})() !== null", arg=before,
                           timeout=60_000, polling=20)
    return time.perf_counter() - start


MAP_JS = """() => { const p = document.querySelector('.st-key-explorer_map .js-plotly-plot');
    return p && p._fullData && p._fullData.length ? String(p.data[0].x.slice(0, 3)) : null; }"""


def _timed_map(page, click) -> float:
    """Seconds from `click()` until Plotly has drawn a map with other points than before (none at first)."""
    before = page.evaluate(MAP_JS)
    start = time.perf_counter()
    click()
    page.wait_for_function(f"(b) => {{ const now = ({MAP_JS})(); return now !== null && now !== b; }}",
                           arg=before, timeout=600_000, polling=50)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="data/PublicTest")
    parser.add_argument("--changes", type=int, default=5)
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("needs Debian's chromium (make browser-deps)")
    from playwright.sync_api import sync_playwright

    port = free_port()
    python = str(PROJECT_PYTHON if PROJECT_PYTHON.exists() else sys.executable)
    proc = subprocess.Popen([python, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
            page.set_default_timeout(600_000)
            page.goto(url + "/Model_Explorer")
            page.locator(TILE).first.wait_for()
            wait_idle(page)
            page.locator(".st-key-explorer_set_kind button", has_text="Folder on the server").click()
            wait_idle(page)
            field = page.locator(".st-key-explorer_folder input")
            field.fill(args.folder)
            field.press("Enter")
            wait_idle(page)
            start = time.perf_counter()
            page.get_by_role("button", name="Evaluate").click()
            page.get_by_text("images). Probabilities").filter(has_text=args.folder.rstrip("/").split("/")[-1]) \
                .first.wait_for(timeout=600_000)
            open_s = time.perf_counter() - start
            faces = page.locator('[data-testid="stMetric"]', has_text="Faces").locator(
                '[data-testid="stMetricValue"]').inner_text()
            wait_idle(page)

            pages = []
            for _ in range(args.changes):
                pages.append(_timed_change(page, lambda: page.get_by_role("button", name="Next page").click()
                                           if page.get_by_role("button", name="Next page").count()
                                           else page.locator('[data-testid="stPagination"] button').last.click()))
                wait_idle(page)
            filters = []
            outcome = page.locator(".st-key-explorer_f_outcome button")
            for i in range(args.changes):
                name = "Right" if i % 2 == 0 else "Wrong"
                filters.append(_timed_change(page, lambda n=name: outcome.filter(has_text=n).click()))
                wait_idle(page)
            map_s = _timed_map(page, lambda: page.get_by_role("tab", name="Embedding map").click())
            wait_idle(page)
            tsne_s = _timed_map(page, lambda: page.locator(".st-key-explorer_map_method_True button",
                                                          has_text="t-SNE").click())
            browser.close()
    finally:
        stop_process(proc)
    write_result("bench_explorer_page", {
        "folder": args.folder, "faces": faces, "open_s": round(open_s, 2),
        "page_change_s": round(statistics.median(pages), 3), "page_change_all_s": [round(x, 3) for x in pages],
        "filter_change_s": round(statistics.median(filters), 3),
        "filter_change_all_s": [round(x, 3) for x in filters],
        "map_draw_s": round(map_s, 2), "tsne_draw_s": round(tsne_s, 2),
    })


if __name__ == "__main__":
    main()
