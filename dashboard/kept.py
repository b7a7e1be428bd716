"""A page's inputs kept for the session: a visit to another page does not reset them.

Streamlit forgets a widget's value when a run of another page does not draw it, so Video -> Image -> Video
came back to an empty page. `remember(key, default)` is called instead of passing `value=`/`index=` to the
widget: it puts the value last seen (or the default) under the widget's key before the widget is drawn.
Uploads cannot be put back into a file uploader: `uploads(key)` gives the files it held before a page switch
(the uploader's `on_change=upload_changed` tells a switch from a visitor removing them).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_STORE = "_kept_inputs"


def remember(key: str, default: Any = None) -> str:
    """The widget key, its value restored after a page switch (or set to `default` the first time)."""
    store = st.session_state.setdefault(_STORE, {})
    if key in st.session_state:
        store[key] = st.session_state[key]
    elif key in store:
        st.session_state[key] = store[key]
    elif default is not None:
        st.session_state[key] = default
    return key


def forget(key: str) -> None:
    st.session_state.setdefault(_STORE, {}).pop(key, None)
    st.session_state.pop(key, None)


def upload_changed(key: str) -> None:
    """on_change of a file uploader: what it holds now (nothing, when the visitor removed the files) is kept."""
    value = st.session_state.get(key)
    chosen = value if isinstance(value, list) else [value] if value is not None else []
    st.session_state.setdefault(_STORE, {})[f"upload:{key}"] = [(f.name, f.getvalue()) for f in chosen]


def uploads(key: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of the files in the uploader `key`, or, when it came back empty from a page switch (no
    on_change: the visitor did not remove them), of the files it held before."""
    value = st.session_state.get(key)
    chosen = value if isinstance(value, list) else [value] if value is not None else []
    if chosen:
        return [(f.name, f.getvalue()) for f in chosen]
    return list(st.session_state.setdefault(_STORE, {}).get(f"upload:{key}", []))
