"""The Streamlit dashboard's shared UI: settings in the sidebar, cached resources, charts, files.

Pages import from here and from `fer_core`; nothing in `fer_core` imports Streamlit. Nothing is imported
eagerly: each page imports the modules it needs, so the home page does not pay for plotly and pandas before
it is first drawn.
"""
