"""Page scaffolding shared by every page: page config, the look, the sidebar, errors, small widgets."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from fer_core.emotions import COLORS_HEX, EMOTIONS, display_name

from . import settings as settings_mod
from .files import upload_limit_mb
from .settings import Settings

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("fer.dashboard")

APP_NAME = "Emotion Recognition"
FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"
"""The browser tab's icon, served by this server: a Material icon as `page_icon` makes the browser fetch an
SVG from fonts.gstatic.com (Streamlit builds that URL), which fails offline and leaves 127.0.0.1."""

_CSS = """
<style>
  .block-container {padding-top: 2.2rem; padding-bottom: 3rem; max-width: 1250px;}
  h1 {font-weight: 700; letter-spacing: -0.02em;}
  .fer-lead {font-size: 1.08rem; color: #52606D; margin-top: -0.6rem; margin-bottom: 1.2rem;}
  .fer-chip {display: inline-block; padding: 0.18rem 0.65rem; border-radius: 999px; font-weight: 600;
             font-size: 0.9rem; color: #111; margin: 0 0.3rem 0.3rem 0; white-space: nowrap;}
  .fer-chip small {font-weight: 500; opacity: 0.8; margin-left: 0.25rem;}
  .fer-chip.fer-sm {font-size: 0.76rem; padding: 0.1rem 0.5rem;}
  .fer-legend {margin: 0.2rem 0 0.6rem 0;}
  .fer-card {border: 1px solid #E4E7EB; border-radius: 0.8rem; padding: 1rem 1.1rem; height: 100%;
             background: #FFFFFF;}
  .fer-card h4 {margin: 0 0 0.35rem 0; font-size: 1.05rem;}
  .fer-card p {margin: 0; color: #52606D; font-size: 0.93rem;}
  .fer-step {font-size: 0.93rem; color: #3E4C59;}
  div[data-testid="stMetricValue"] {font-size: 1.6rem;}
  div[data-testid="stSidebarUserContent"] {padding-top: 1rem;}
</style>
"""


def style_app() -> None:
    """Page configuration and the look, once per run from app.py (the frame around every page)."""
    # The sidebar opens on a wide screen and starts closed on a phone, where it would cover the page.
    st.set_page_config(page_title=APP_NAME, page_icon=str(FAVICON), layout="wide", initial_sidebar_state="auto")
    st.markdown(_CSS, unsafe_allow_html=True)


def in_browser() -> bool:
    """False under `streamlit.testing` (AppTest), which has no browser: a page served to a browser always has
    the HTTP request's headers, an AppTest run has none."""
    try:
        return bool(st.context.headers)
    except Exception:  # noqa: BLE001 - no request context at all
        return False


def _through_app() -> None:
    """Make sure the page runs inside app.py's frame (look, menu), also when it is opened by its address.

    Streamlit treats a `pages/` folder beside the entry script as its older multipage mode until some run has
    called `st.navigation`: on a fresh server, a bookmarked http://127.0.0.1:8501/Video ran pages/2_Video.py
    alone, without app.py (no styling, an extra "app" entry in the menu). Here that run switches Streamlit to
    `st.navigation` mode and reruns, which goes through app.py to the same page.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the older mode
        return
    # Only for a browser: streamlit.testing's AppTest starts every run in the older mode, by design.
    if getattr(PagesManager, "uses_pages_directory", False) and in_browser():
        PagesManager.uses_pages_directory = False
        st.rerun()


def setup_page(title: str, icon: str, lead: str | None = None) -> Settings:
    """Draw the page's title and the shared sidebar settings; returns the current settings.

    `icon` is a Material icon (":material/name:"), which renders the same on every machine. The menu of
    pages is `st.navigation`'s, registered in app.py from `dashboard.navigation.PAGES`.
    """
    _through_app()
    settings = settings_mod.sidebar()
    with st.sidebar:
        st.divider()
        st.caption(
            f"Uploads up to {upload_limit_mb()} MB each. They are processed in memory (videos in a temporary "
            "file that is deleted right after) and never stored."
        )
    st.title(f"{icon} {title}")
    if lead:
        st.markdown(f'<p class="fer-lead">{lead}</p>', unsafe_allow_html=True)
    return settings


def show_error(error: BaseException, what: str = "the input") -> None:
    """One clear sentence in the page; the traceback goes to the server log, never to the user."""
    from fer_core.errors import FerError

    if isinstance(error, FerError):
        st.error(str(error), icon=":material/error:")
    else:
        log.exception("unexpected error while processing %s", what, exc_info=error)
        st.error(f"Something went wrong while processing {what}: {type(error).__name__}. "
                 "Try another file or other settings.", icon=":material/error:")


def chip(emotion: str, confidence: float | None = None, prefix: str = "", small: bool = False) -> str:
    """An emotion label as a coloured pill (HTML)."""
    colour = COLORS_HEX.get(emotion, "#CCCCCC")
    text = html.escape(prefix + display_name(emotion))
    extra = f"<small>{confidence:.0%}</small>" if confidence is not None else ""
    size = " fer-sm" if small else ""
    return f'<span class="fer-chip{size}" style="background:{colour}">{text}{extra}</span>'


def chips(labels: list[tuple[str, float | None]] | list[str]) -> None:
    parts = [chip(*item) if isinstance(item, tuple) else chip(item) for item in labels]
    st.markdown("".join(parts), unsafe_allow_html=True)


def legend() -> None:
    """The emotion colour key, identical on every page."""
    st.markdown('<div class="fer-legend">' + "".join(chip(e) for e in EMOTIONS) + "</div>", unsafe_allow_html=True)


def card(title: str, body: str) -> None:
    st.markdown(f'<div class="fer-card"><h4>{html.escape(title)}</h4><p>{body}</p></div>', unsafe_allow_html=True)


def face_timelines(table: "pd.DataFrame", key: str) -> None:
    """One emotion-over-time chart per face that counts in `table` (one video's or stream's rows), a tab each
    when there are several: the Video page, a batch folder's video and a results table show them alike."""
    from fer_core.results import face_ids

    from .charts import emotion_timeline

    ids = face_ids(table)
    tabs = st.tabs([f"Face {i}" for i in ids]) if len(ids) > 1 else [st.container()]
    for tab, face_id in zip(tabs, ids):
        with tab:
            st.plotly_chart(emotion_timeline(table[table["face_id"] == face_id], title=f"Face {face_id}"),
                            key=f"{key}_{face_id}", config={"displayModeBar": False}, width="stretch")
