"""The dashboard's pages (``app.py`` lists them with ``st.navigation``) and their shared helpers.

Streamlit treats a ``pages/`` folder beside the main script as a legacy multipage app
until the main script first calls ``st.navigation`` in the server process. So a page URL
opened first on a fresh server would run that page alone: no menu, no layout, and every
helper module listed as a page. This package is imported once per process, by the first
page that runs: it does what ``st.navigation`` does and reruns, so the page is served
through ``app.py`` like every other time.
"""

from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    import streamlit as st

    PagesManager.uses_pages_directory = False
    st.rerun()
