"""The dashboard's entry point: the frame around every page and the navigation between them.

Run it with `make run` (or `streamlit run app.py`). The pages are registered with `st.navigation` from
`dashboard.navigation.PAGES`; the home page is `pages/0_Home.py`.
"""

from __future__ import annotations

import streamlit as st

from dashboard import navigation, ui

ui.style_app()
page = st.navigation([
    st.Page(info.path, title=info.title, icon=info.icon, default=info is navigation.HOME,
            url_path=None if info is navigation.HOME else info.url_path)
    for info in navigation.PAGES
])
page.run()
