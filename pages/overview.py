"""Overview: every run with its status, progress, key metric and worst finding; open one."""

from __future__ import annotations

import streamlit as st

from pages._shared import RUN_PAGE, db_path, get_store, overview_table
from runner.store import ACTIVE

st.title(":material/monitor_heart: traindoc")
st.caption("Runs in this database, newest first. Select a row, or pick a run below, to open its curves "
           "and findings.")

store = get_store()
db = db_path()
runs = store.runs()  # also marks runs whose process died as crashed

if runs.empty:
    st.info("No runs yet. Train a preset in the foreground, or launch one in the background "
            "and watch it live here:")
    st.code("python -m runner run --preset healthy\npython -m runner launch --preset overfitting",
            language="bash")
    st.caption("`python -m runner presets` lists the presets; your own script can stream into the same "
               "database with `runner.start_run(...)` (see the README).")
    st.stop()

active = bool(runs["status"].isin(ACTIVE).any())


@st.fragment(run_every=3 if active else None)
def runs_table() -> None:
    """The table refreshes itself (not the page) every few seconds while runs are active."""
    current = store.runs()
    table = overview_table(db, current)
    picked = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
        key="runs_table",
        column_config={
            "id": st.column_config.NumberColumn("id", width=40),
            "worst finding": st.column_config.TextColumn("worst finding", width=300),
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0,
                                                        format="percent"),
            "steps": st.column_config.NumberColumn("steps", format="%d"),
        },
    )
    rows = picked.selection.rows if picked else []
    if rows:
        st.switch_page(RUN_PAGE, query_params={"run": str(table.iloc[rows[0]]["id"])})
    if bool(current["status"].isin(ACTIVE).any()) != active:
        st.rerun()  # a run started or ended: rerun the page so the refresh timer follows
    counts = current["status"].value_counts()
    st.caption(" · ".join(f"{n} {status}" for status, n in counts.items()))


runs_table()

labels = {int(r.id): f"#{r.id} {r.name} ({r.status})" for r in runs.itertuples()}
left, right = st.columns([3, 1], vertical_alignment="bottom")
chosen = left.selectbox("Open a run", list(labels), format_func=labels.get)
right.page_link(RUN_PAGE, label=f"Open run #{chosen}", icon=":material/show_chart:",
                query_params={"run": str(chosen)})
