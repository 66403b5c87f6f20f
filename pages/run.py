"""One run: status, live curves with the findings' evidence marked, finding cards, config."""

from __future__ import annotations

import streamlit as st

from diagnostics.figures import curve_figure
from pages._fixes import fix_actions, fix_results, fixes_active
from pages._shared import (
    STATUS_ICONS,
    config_table,
    db_path,
    default_metrics,
    diagnose_run,
    duration,
    finding_card,
    get_store,
    md,
    series,
)
from runner.store import ACTIVE

store = get_store()
db = db_path()
runs = store.runs()
if runs.empty:
    st.title("Run")
    st.info("No runs yet: start one with `python -m runner run --preset healthy`, then come back.")
    st.stop()

labels = {int(r.id): f"#{r.id} {r.name} ({r.status})" for r in runs.itertuples()}
wanted = st.query_params.get("run", "")
if wanted and (not wanted.isdigit() or int(wanted) not in labels):
    st.warning(f"There is no run with id {md(wanted)} in this database; showing the newest run instead.")
ids = list(labels)
start = ids.index(int(wanted)) if wanted.isdigit() and int(wanted) in labels else 0
run_id = st.sidebar.selectbox("Run", ids, index=start, format_func=labels.get)
if st.query_params.get("run") != str(run_id):  # writing the same value would cost a rerun
    st.query_params["run"] = str(run_id)
run = store.run(run_id)

st.title(f"{STATUS_ICONS.get(run['status'], '')} {md(run['name'])}")
cols = st.columns(5)
cols[0].metric("Status", run["status"])
cols[1].metric("Device", run["device"] or "—")
cols[2].metric("Duration", duration(run) or "—")
cols[3].metric("Steps", "—" if run["last_step"] is None else f"{run['last_step']:,}")
cols[4].metric("Source", run["source"])
if run["parent_id"]:  # a fix or comparison run: one click back to the run it was derived from
    st.page_link("pages/run.py", label=f"Derived from run #{run['parent_id']}", icon=":material/call_split:",
                 query_params={"run": str(run["parent_id"])})
if run["error"] and run["status"] in ("failed", "crashed", "cancelled", "stopped"):
    if run["status"] == "cancelled":
        st.warning("This run was cancelled. What it logged before stopping is kept below.")
    elif run["status"] == "stopped":  # the live doctor, as asked at launch (runner/live_doctor.py)
        st.warning("The live doctor stopped this run on a critical finding. What it logged is kept below.")
    else:
        st.error(f"This run {run['status']}. The error it recorded is below: fix the config (or the "
                 "script) and launch it again.")
    st.code(run["error"], language=None, wrap_lines=True)

names = store.metric_names(run_id)
if not names:
    st.info("This run has logged no metrics yet." + (" The chart appears as soon as it does."
                                                     if run["status"] in ACTIVE else ""))
found, _ = diagnose_run(db, run_id, run["last_step"])
picked, smoothing, log_y = [], 0.0, False
if names:
    left, mid, right = st.columns([4, 2, 1], vertical_alignment="bottom")
    picked = left.multiselect("Metrics", names, default=default_metrics(names, found),
                              key=f"metrics-{run_id}")
    smoothing = mid.slider("Smoothing (EMA)", 0.0, 0.99, 0.8, 0.01,
                           help="EMA weight per step, applied to every point before downsampling; the raw "
                           "curve stays faint behind the smoothed one.")
    log_y = right.toggle("Log y", value=False)


@st.fragment(run_every=2 if run["status"] in ACTIVE else None)
def live_view() -> None:
    """Only chart and findings rerun while the run is live: new rows miss the (run, last step) cache."""
    now = store.run(run_id)
    findings, note = diagnose_run(db, run_id, now["last_step"])
    if now["status"] in ACTIVE:
        done = float(now["progress"] or 0)
        st.progress(done, text=f"{now['status']} · {done:.0%} · step {now['last_step'] or 0:,}")
    if names and not picked:
        st.info("Pick one or more metrics to plot.")
    elif picked:
        data = series(db, run_id, now["last_step"], tuple(picked))
        st.plotly_chart(curve_figure(data, smoothing=smoothing, log_y=log_y, findings=findings),
                        width="stretch", key="curves")
    st.subheader("Findings")
    if note:
        st.caption(note)
    elif not findings:
        st.success("No problems found in what this run has logged so far.")
    for finding in findings:
        finding_card(finding, actions=fix_actions(store, now))
    if now["status"] != run["status"] or st.session_state.pop("fix-launched", None):
        st.rerun()  # it finished or failed, or a fix was launched: redraw the whole page


live_view()


fixes_live = fixes_active(store, run_id)


@st.fragment(run_every=2 if fixes_live else None)
def fixes_view() -> None:
    """Fix runs launched from this run: live progress, then the verdicts."""
    if fix_results(store, run_id) != fixes_live:
        st.rerun()  # the fix runs finished: redraw once with the verdicts, and stop polling


fixes_view()

st.subheader("Config")
if run["config"]:
    st.dataframe(config_table(run["config"]), hide_index=True, width="stretch")
else:
    st.caption("This run stored no config.")
