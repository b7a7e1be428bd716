"""What the browser tests share: waiting for a script run to end, opening a page, full-page screenshots."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from benchmarks.common import wait_idle  # noqa: F401  (one definition, shared with the benchmarks)

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
# An element of the page's current run: while a run lasts, Streamlit keeps the last run's elements that it has not
# replaced yet, marked data-stale="true", so a locator without this can match an old and a new copy at once.
CURRENT = '[data-testid="stElementContainer"]:not([data-stale="true"])'


def current(page, test_id: str):
    """The elements with this data-testid that belong to the current run (never a stale copy)."""
    return page.locator(f'{CURRENT} [data-testid="{test_id}"]')


def chromium_path() -> str | None:
    for candidate in (os.environ.get("FER_CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def launch(playwright, *args: str):
    """Debian's Chromium, headless (no browser download), with these extra command-line switches."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=[*BASE_ARGS, *args])


def open_page(page, path: str, title: str) -> None:
    page.goto(f"/{path}")
    page.locator("h1", has_text=title).first.wait_for()
    wait_idle(page)


def snap(page, path: Path) -> None:
    """Screenshot of the whole page: Streamlit scrolls inside its main container, not the document, so the
    viewport is stretched to the content's height for the shot."""
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stSidebarContent\"]')]"
        ".map(e => e.scrollHeight), document.body.scrollHeight)")
    page.set_viewport_size({"width": size["width"], "height": min(max(int(height) + 40, size["height"]), 7000)})
    page.wait_for_timeout(700)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def assert_no_errors(page) -> None:
    errors = page.locator(ERRORS)
    texts = [errors.nth(i).inner_text() for i in range(errors.count())]
    assert not texts, f"error elements on the page: {texts}"


FITS = """e => { const s = e.querySelector('.dvn-scroller'); return !s || s.scrollWidth <= s.clientWidth + 1; }"""


def tables_fit(page, timeout: float = 10.0) -> None:
    """Every table on the page fits its card: no horizontal scrolling inside it. The grid sizes its columns
    a moment after it is drawn (longer on a loaded machine), so each table has `timeout` seconds to settle."""
    tables = page.locator('[data-testid="stDataFrame"]')
    for i in range(tables.count()):
        if tables.nth(i).is_visible():
            deadline = time.time() + timeout
            while not tables.nth(i).evaluate(FITS):
                assert time.time() < deadline, f"table {i} is wider than its card"
                page.wait_for_timeout(200)
