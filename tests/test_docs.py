"""The README and the docs pages: every relative link and picture points at a file in the repository (and a
heading, where it names one), and the README's pictures stay small enough to load fast on GitHub. The
reference moved from the README into docs/ pages, so a renamed page or heading would otherwise leave readers
at a dead link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown page (lower case, punctuation dropped, spaces to -)."""
    found = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"#{1,6}\s+(.*)", line)):
            found.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return found


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # commands in code blocks are not links
    return [a or b for a, b in LINK.findall(text) if not (a or b).startswith(("http://", "https://", "mailto:"))]


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_every_relative_link_reaches_a_file_and_heading(page):
    broken = []
    for link in links(page):
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(link)
    assert not broken, f"{page.name}: dead links {broken}"


def test_the_readme_shows_the_dashboard():
    pictures = [link for link in links(REPO / "README.md") if link.endswith(".png")]
    assert len(pictures) >= 2 and all(link.startswith("docs/images/") for link in pictures), pictures


def test_pictures_are_small():
    sizes = {p.name: p.stat().st_size for p in (REPO / "docs" / "images").glob("*.png")}
    assert sizes and all(size < 300_000 for size in sizes.values()), sizes
