"""The sidebar's model picker as a user sees it (issue 27, item 4): roles first, every option whole (not cut
off) at a desktop and a phone width, a model trained here last and marked not comparable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import streamlit_server
from helpers import open_page, wait_idle

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
# Each option's text (and the chosen one in the box) fits: nothing is cut off with an ellipsis.
OPTIONS = """list => [...list.querySelectorAll('[role=option]')].map(o => {
    const t = o.firstElementChild || o; return [t.textContent, t.scrollWidth <= t.clientWidth + 1]; })"""


@pytest.fixture(scope="module")
def server_with_a_model_of_mine(tmp_path_factory):
    """A server that also finds a model trained on the Training page (scored on its own validation faces)."""
    folder = tmp_path_factory.mktemp("extra_models")
    mine = folder / "holiday_faces"
    shutil.copytree(REPO / "models" / "mini_xception_wide48", mine, ignore=shutil.ignore_patterns("*.keras", "*.csv"))
    spec = json.loads((mine / "model.json").read_text())
    spec.pop("short_title", None)
    spec.update(name="holiday_faces", title="Fine-tuned on my holiday photos",
                metrics={"val_accuracy": 0.93, "val_data": "upload split", "ms_per_face": 0.18})
    (mine / "model.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_MODELS_DIRS", str(folder))
        with streamlit_server("streamlit-picker-server.log", tmp_path_factory.mktemp("user_models")) as server:
            yield server


def options_shown(page) -> list[tuple[str, bool]]:
    """Every option of the open menu (it draws only those in view: scrolled through), with whether it fits."""
    listbox = page.get_by_role("listbox")
    seen: dict[str, bool] = {}
    for _ in range(20):
        for text, fits in listbox.evaluate(OPTIONS):
            seen[text] = fits
        at_end = listbox.evaluate("e => e.scrollTop + e.clientHeight >= e.scrollHeight - 1")
        if at_end:
            break
        listbox.evaluate("e => { e.scrollTop += e.clientHeight / 2; }")
        page.wait_for_timeout(150)
    return list(seen.items())


@pytest.mark.parametrize("width", [1280, 390])
def test_the_model_picker_speaks_in_roles_and_cuts_nothing_off(browser, server_with_a_model_of_mine, screenshots,
                                                                width):
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=server_with_a_model_of_mine)
    page = context.new_page()
    try:
        open_page(page, "Image", "Image")
        picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]', has_text="Model").first
        where = picker.bounding_box()
        if where is None or where["x"] + where["width"] <= 0:  # a phone: the sidebar starts closed (off-screen)
            page.get_by_test_id("stExpandSidebarButton").click()
            page.wait_for_timeout(500)
        picker.click()
        options = options_shown(page)
        texts = [text for text, _ in options]
        assert [t.split(" - ")[0] for t in texts[:3]] == ["Fast (default)", "Accurate", "Best"]
        assert texts[-1] == "holiday_faces - not comparable"  # after every shipped model, never first
        assert all(fits for _, fits in options), [t for t, fits in options if not fits]
        page.screenshot(path=str(screenshots / f"model_picker_{width}.png"))
        longest = max(texts, key=len)
        box = picker.locator("input")
        box.fill(longest)  # the menu filters as one types: the option comes into view
        page.get_by_role("option", name=longest, exact=True).click()
        wait_idle(page)
        assert box.input_value() == longest and box.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        picker_caption = page.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]').first
        assert picker_caption.is_visible()
        if width == 1280:  # the result says which model made it, under the result itself
            from dashboard.settings import model_label
            from fer_core.models import list_models

            other = texts[3]  # the first model without a role: not the default
            box.fill(other)
            page.get_by_role("option", name=other, exact=True).click()
            wait_idle(page)
            chosen = next(s for s in list_models() if model_label(s) == other)
            page.get_by_test_id("stRadioGroup").get_by_text("Sample photo").click()
            wait_idle(page)
            made_by = page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]',
                                   has_text="Made by the ")
            made_by.first.wait_for()
            assert made_by.first.inner_text().startswith(f"Made by the model {chosen.name} (")
            page.screenshot(path=str(screenshots / "result_made_by.png"), full_page=True)
    finally:
        context.close()
