"""Confined server paths in headless Chromium against `streamlit run`: a path outside the allowed folders, one
climbing out with `..` and a symlink pointing out are one sentence on the Batch page, the same for a file
that exists and one that does not; a public deployment (FER_PUBLIC=1) shows no server path, no saving and no
network address at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_dashboard_browser import open_page, wait_idle

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ERROR = '[data-testid="stAlertContentError"]'


def _type(page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True).and_(page.locator("input"))
    field.fill(text)
    field.press("Enter")
    wait_idle(page)


def _errors(page) -> list[str]:
    errors = page.locator(ERROR)
    # The last line: the first is the icon's name ("error"), which the icon font draws.
    return [errors.nth(i).inner_text().strip().splitlines()[-1] for i in range(errors.count())]


def test_paths_outside_the_allowed_folders_are_one_sentence(page, tmp_path):
    """The test server allows pytest's temporary folder (conftest), the batch results folder and data/; the
    repository's samples/ and /etc are outside. A table that exists, one that does not, `..` out of an allowed
    folder and a link in it pointing out all get the same sentence; the same table inside opens."""
    (tmp_path / "out").symlink_to(REPO / "samples")
    wrong = [REPO / "samples" / "photos" / "happy_posed.jpg", REPO / "samples" / "missing.csv", Path("/etc/passwd"),
             str(tmp_path) + "/.." * (len(tmp_path.parts) - 1) + f"{REPO}/samples/photos/happy_posed.jpg",
             tmp_path / "out" / "photos" / "happy_posed.jpg"]
    open_page(page, "Batch", "Batch")
    page.get_by_test_id("stRadioGroup").get_by_text("Open a results table").click()
    wait_idle(page)
    seen = set()
    for path in wrong:
        _type(page, "Or a results table's path on this computer", str(path))
        errors = _errors(page)
        assert len(errors) == 1, (path, errors)
        seen.add(errors[0])
    assert len(seen) == 1, seen
    sentence = seen.pop()
    assert sentence.startswith("Only paths under ") and sentence.endswith(" can be opened on this server.")
    assert "samples" not in sentence and "passwd" not in sentence

    page.get_by_test_id("stRadioGroup").get_by_text("Open a results folder").click()
    wait_idle(page)
    for path in (REPO / "samples", tmp_path / "out"):
        _type(page, "Or a results folder's path", str(path))
        assert _errors(page) == [sentence]
    _type(page, "Or a results folder's path", str(tmp_path))  # allowed: now it says what it found there
    assert _errors(page) == [f"{tmp_path} is not a batch results folder (it has no batch.json)."]


@pytest.fixture()
def public_server(monkeypatch, request):
    """A fresh server started with FER_PUBLIC=1 (and FER_NETWORK_STREAMS=on, which the public switch wins)."""
    monkeypatch.setenv("FER_PUBLIC", "1")
    monkeypatch.setenv("FER_NETWORK_STREAMS", "on")
    return request.getfixturevalue("fresh_server")


def test_a_public_deployment_shows_no_server_path_saving_or_address(browser, public_server):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=str(public_server))
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        open_page(page, "Batch", "Batch")
        modes = page.get_by_test_id("stRadioGroup").filter(has_text="Open a results table")
        assert modes.get_by_role("radio").count() == 1
        page.get_by_text("This is a public deployment").wait_for()
        main = page.get_by_test_id("stMain")
        assert main.get_by_test_id("stTextInput").count() == 0  # no path, no folder, no run name
        assert main.get_by_test_id("stFileUploaderDropzoneInput").count() == 1
        assert main.get_by_role("button", name="Run batch").count() == 0

        open_page(page, "Webcam", "Webcam")
        assert page.get_by_text("Save every row on this computer as it comes").count() == 0
        assert page.get_by_role("radio", name="A network camera").count() == 0

        open_page(page, "Video", "Video")
        assert page.get_by_role("radio", name="Network stream").count() == 0
        assert not _errors(page)
    finally:
        context.close()
