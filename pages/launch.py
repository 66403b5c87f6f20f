"""Launch: a preset, a built-in sweep or a finished run's config → edit → sweep → a group of queued runs.

The queue lives in the database: the shared scheduler (started on demand) runs the
groups of every browser session within each group's concurrency limit.
"""

from __future__ import annotations

import streamlit as st

from pages._launch_widgets import config_form, group_progress, sources, starting_point, sweep_inputs
from pages._scripts import scripts_section
from pages._shared import get_store, md
from runner import plan
from runner.config import ConfigError
from runner.executors import EXECUTORS
from runner.live_doctor import STOPPABLE
from runner.store import ACTIVE

store = get_store()
st.title(":material/rocket_launch: Launch runs")
st.caption("Start from a built-in sweep, a preset or a finished run; edit the config; pick what to sweep. "
           "Runs wait in the database's queue and start in the background, a few at a time.")

options = sources(store)
labels = list(options)
wanted = st.query_params.get("from", "")
start = st.selectbox("Start from", labels, index=labels.index(wanted) if wanted in labels else 0)
kind, key = options[start]
base, grid0, seeds0 = starting_point(store, kind, key)

with st.expander("Config", expanded=kind != "sweep", icon=":material/tune:"):
    overrides, errors = plan.overrides(base, config_form(base, start))

st.subheader("Sweep")
texts = sweep_inputs(grid0, start)
cols = st.columns(4)
seeds = int(cols[0].number_input("Seeds (repeats of every point)", 1, 20, seeds0, key=f"{start}:seeds"))
concurrency = int(cols[1].number_input("Concurrency (runs at once)", 1, 16, 2, key=f"{start}:concurrency"))
executor = cols[2].selectbox("Executor", EXECUTORS, help="local: background processes on this machine; "
                             "ray: tasks on a Ray cluster (pip install -r requirements-ray.txt)")
address = cols[3].text_input("Ray address", "", disabled=executor != "ray",
                             help="e.g. ray://head:10001; empty starts a local Ray instance")
name = st.text_input("Group name", value=str(key) if kind != "run" else f"from run {key}")
stop = st.toggle("Stop a run on a critical finding", help=f"The live doctor ends it `stopped` when one of "
                 f"{', '.join(STOPPABLE)} fires (runner/live_doctor.py).")

grid: dict[str, list] = {}
for sweep_key, text in texts.items():
    try:
        grid[sweep_key] = plan.parse_values(sweep_key, text)
    except ConfigError as exc:
        errors[sweep_key] = str(exc)
for bad in errors.values():
    st.error(md(bad))

launch_plan = plan.Plan(name or "sweep", {**base, **overrides}, grid, seeds=seeds, concurrency=concurrency,
                        executor=executor, address=address or None,
                        extra_spec={"stop_on": list(STOPPABLE)} if stop else {})
try:
    n_runs = len(launch_plan.runs()) if not errors else 0
except ConfigError as exc:
    st.error(md(exc))
    n_runs = 0
if st.button(f"Queue {n_runs} run{'s' if n_runs != 1 else ''}", type="primary", disabled=not n_runs,
             icon=":material/play_arrow:"):
    group_id, _ = plan.submit(store, launch_plan)
    st.toast(f"Group #{group_id} queued")

scripts_section(store)

st.subheader("Queue")
groups = store.groups()
any_active = bool(store.runs().status.isin(ACTIVE).any()) if not groups.empty else False


@st.fragment(run_every=1 if any_active else None)
def queue() -> None:
    """Recent groups of every session, refreshed alone while anything is queued or running."""
    recent = store.groups().head(5)
    if recent.empty:
        st.info("Nothing queued yet: the groups you (or anyone using this database) launch appear here.")
        return
    holder = store.scheduler_holder()
    st.caption(f"Scheduler: {'running as pid ' + str(holder['pid']) if holder else 'idle'}")
    still_active = False
    for group in recent.to_dict("records"):
        runs = store.runs(group_id=int(group["id"]))
        still_active |= bool(runs.status.isin(ACTIVE).any())
        with st.container(border=True):
            group_progress(store, group, runs)
    if still_active != any_active:
        st.rerun()  # start or stop the refresh timer


queue()
