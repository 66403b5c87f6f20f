"""The dashboard's own helpers (Streamlit): cached reads, finding cards, forms and panels the pages share.

They live here, not as ``pages/_*.py``, because Streamlit lists every file of ``pages/`` in its
sidebar before the app's navigation replaces it: ``pages/`` holds only the pages a user opens.
"""
