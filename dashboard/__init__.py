"""The Streamlit dashboard's shared UI: settings in the sidebar, cached resources, charts, files.

Pages import from here and from `fer_core`; nothing in `fer_core` imports Streamlit.
"""

from . import charts, files, resources, settings, ui  # noqa: F401
from .settings import Settings  # noqa: F401
