"""Overview: every run with its status, progress, key metric and worst finding; filter, select, manage."""

from __future__ import annotations

import streamlit as st

from traindoc.ui.alerts import alerts_settings
from traindoc.ui.manage import manage_selected
from traindoc.ui.shared import RUN_PAGE, db_path, get_store, start_links
from traindoc.views.overview import OVERVIEW_BUDGET_S, PENDING, date_bounds, filter_choices, overview_table

st.title(":material/monitor_heart: traindoc")
st.caption("Runs in this database, newest first. Tick rows to open, compare, tag, rename, archive or delete them.")

store = get_store()
db = db_path()


@st.fragment(run_every=2)
def watch() -> None:
    """A cheap poll (one aggregate query): a run started, moved or finished anywhere → redraw the page."""
    token = store.change_token()
    if st.session_state.setdefault("overview:token", token) != token:
        st.session_state["overview:token"] = token
        st.rerun()
    if st.session_state.get("overview:pending"):  # runs this server has not judged yet: judge more of them
        st.rerun()


watch()
alerts_settings(store)  # before the empty state: a fresh database can be given its webhook first
choices = filter_choices(store)
if not choices["status"]:
    st.info("No runs yet. Train a preset in the foreground, or launch one in the background "
            "and watch it live here:")
    st.code("python -m runner run --preset healthy\npython -m runner launch --preset overfitting",
            language="bash")
    st.caption("`python -m runner presets` lists the presets; your own script can stream into the same "
               "database with `traindoc.start_run(...)` (see the README).")
    st.markdown("Or, from here:")
    start_links()
    st.stop()

with st.container(border=True):
    top = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    text = top[0].text_input("Search name or note", key="f:text", placeholder="e.g. resnet")
    status = top[1].multiselect("Status", choices["status"], key="f:status")
    source = top[2].multiselect("Source", choices["source"], key="f:source")
    tags = top[3].multiselect("Tag", choices["tag"], key="f:tag")
    low = st.columns([3, 2, 4], vertical_alignment="bottom")  # the toggle takes the free 4th slot: no "Archi…"
    group_names = dict(choices["group"])
    groups = low[0].multiselect("Group", list(group_names), format_func=group_names.get, key="f:group")
    dates = low[1].date_input("Created", value=[], key="f:dates", help="one day, or a range")
    archived = low[2].toggle("Archived runs", key="f:archived", help="show the archived runs instead")

since, until = date_bounds(dates)
runs = store.find_runs(status=status, tag=tags, group_id=groups, source=source, since=since, until=until,
                       text=text, archived=archived)
table = overview_table(db, runs, budget_s=OVERVIEW_BUDGET_S)
st.session_state["overview:pending"] = bool((table["worst finding"] == PENDING).any()) if not table.empty else False
if table.empty:
    st.info("No run matches these filters.")
    st.stop()
# a new key when the rows change under it (filters, a delete), so ticks never land on other runs
view = repr((text, status, source, tags, groups, dates, archived, st.session_state.get("manage:deleted", 0)))
hidden = {"progress"} if table["progress"].isna().all() else set()  # no active run: no empty column
if not table["vs baseline"].astype(bool).any():  # no baseline marked: no empty column either
    hidden.add("vs baseline")
picked = st.dataframe(
    table, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row",
    key=f"runs_table:{view}", column_order=[c for c in table.columns if c not in hidden],
    column_config={
        "id": st.column_config.NumberColumn("id", width=40),
        # wide enough at 1400 px for a sweep run's "[optim.eps=1e-08]" tail and a finding's title
        "name": st.column_config.TextColumn("name", width=290),
        "status": st.column_config.TextColumn("status", width=75),
        "worst finding": st.column_config.TextColumn("worst finding", width=320),
        "vs baseline": st.column_config.TextColumn(
            "vs baseline", help="Better or worse than the baseline of the run's group (else of the database) on "
            "the score, beyond the noise margin: the same verdict as a fix's. Mark a baseline below."),
        "progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=100, format="%d %%"),
        "steps": st.column_config.NumberColumn("steps", format="%d"),
        "tags": st.column_config.ListColumn("tags"),
        "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
    },
)
counts = runs["status"].value_counts()
pending = int((table["worst finding"] == PENDING).sum())
st.caption(" · ".join(f"{n} {s}" for s, n in counts.items()) + f" — {len(runs)} shown"
           + (f" · judging {pending} more (this server has not read them yet)" if pending else ""))
rows = picked.selection.rows if picked else []
manage_selected(store, [int(table.iloc[i]["id"]) for i in rows if i < len(table)])

labels = {int(r.id): f"#{r.id} {r.name} ({r.status})" for r in table.itertuples()}
# the browser keeps a picked option's old text when only its label changes ("(running)" stayed after the
# run finished): a new key when a status changes redraws it, and the pick is carried over by hand
ids = list(labels)
last = st.session_state.get("overview:open-id")
left, right = st.columns([3, 1], vertical_alignment="bottom")
chosen = left.selectbox("Open a run", ids, format_func=labels.get, index=ids.index(last) if last in ids else 0,
                        key=f"overview:open:{abs(hash(tuple(table['status'])))}")
st.session_state["overview:open-id"] = chosen
right.page_link(RUN_PAGE, label=f"Open run #{chosen}", icon=":material/show_chart:",
                query_params={"run": str(chosen)})
