"""traindoc dashboard: ``streamlit run app.py [-- --db FILE]``.

Explicit navigation over the files in ``pages/``: a page file that exists is listed,
so pages added later (compare, launch, upload) appear without touching the others.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import traindoc
from traindoc.ui.shared import db_path

HERE = Path(__file__).parent  # the checkout's top, or traindoc/_dashboard when installed: pages/ is beside it
# a file shipped with the package: a Material icon as favicon is fetched from a font CDN (fails offline)
ICON = Path(traindoc.__file__).parent / "assets" / "icon.png"
st.set_page_config(page_title="traindoc", page_icon=str(ICON), layout="wide")
# (file, title, icon, url path); the first is the default page
PAGES = (
    ("pages/overview.py", "Overview", ":material/table_rows:", "overview"),
    ("pages/run.py", "Run", ":material/show_chart:", "run"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:", "compare"),
    ("pages/launch.py", "Launch", ":material/rocket_launch:", "launch"),
    ("pages/upload.py", "Upload", ":material/upload:", "upload"),
    ("pages/catalog.py", "Rule catalog", ":material/menu_book:", "catalog"),
)

nav = st.navigation([
    st.Page(path, title=title, icon=icon, url_path=url, default=i == 0)
    for i, (path, title, icon, url) in enumerate(PAGES) if (HERE / path).exists()
])
st.sidebar.caption("Database")
# plain text, not st.code: a code block makes every page load the syntax highlighter (1.5 MB of script)
st.sidebar.text(db_path())
nav.run()
