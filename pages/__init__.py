"""The dashboard's pages, listed by ``app.py`` with ``st.navigation``; their helpers are ``traindoc.ui``
(which also serves a page URL opened first on a fresh server through ``app.py``)."""
