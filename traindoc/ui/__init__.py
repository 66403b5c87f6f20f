"""The dashboard's own helpers (Streamlit): cached reads, finding cards, forms and panels the pages share.

They live here, not as ``pages/_*.py``, because Streamlit lists every file of ``pages/`` in its
sidebar before the app's navigation replaces it: ``pages/`` holds only the pages a user opens.

Streamlit also treats a ``pages/`` folder beside the main script as a legacy multipage app until
the main script first calls ``st.navigation`` in the server process. So a page URL opened first
on a fresh server would run that page alone: no menu, no layout, the folder's files listed as
pages. Every page imports this package (through ``traindoc.ui.shared``), once per process, on
whichever script runs first: it does what ``st.navigation`` does and reruns, so the page is
served through ``app.py`` like every other time.
"""

from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    import streamlit as st

    PagesManager.uses_pages_directory = False
    st.rerun()
