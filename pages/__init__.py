"""The dashboard's pages (``app.py`` lists them with ``st.navigation``); their shared helpers are ``traindoc.ui``.

Streamlit treats a ``pages/`` folder beside the main script as a legacy multipage app
until the main script first calls ``st.navigation`` in the server process. So a page URL
opened first on a fresh server would run that page alone: no menu, no layout, and the
folder's files listed as pages. This package is imported once per process, by the first
page that runs: it does what ``st.navigation`` does and reruns, so the page is served
through ``app.py`` like every other time.
"""

from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    import streamlit as st

    PagesManager.uses_pages_directory = False
    st.rerun()
