"""Launch: a preset, a built-in sweep or a finished run's config → edit → sweep → a group of queued runs.

The queue lives in the database: the shared scheduler (started on demand) runs the
groups of every browser session within each group's concurrency limit.
"""

from __future__ import annotations

import random
import zlib

import streamlit as st

from runner import plan, search, sweep
from runner.config import ConfigError
from runner.executors import EXECUTORS
from runner.stop_on import STOPPABLE
from traindoc.ui.launch_widgets import config_form, group_progress, sources, starting_point, sweep_inputs
from traindoc.ui.lr_find import lr_find_section
from traindoc.ui.scripts import scripts_section
from traindoc.ui.search_widgets import describe, search_inputs
from traindoc.ui.shared import db_path, get_store, md

store = get_store()
GRID, RANDOM_SEARCH = "Grid", "Random search"
LARGE_SUBMISSION = 10  # a submission of this many runs asks once before queueing (one mis-click queued 15)
st.title(":material/rocket_launch: Launch runs")
st.caption("Start from a built-in sweep, a preset or a finished run; edit the config; pick what to sweep. "
           "Runs wait in the database's queue and start in the background, a few at a time.")

options = sources(store)
labels = list(options)
wanted = st.query_params.get("from", "")
# Every widget has a key: a run finishing elsewhere adds an option to this list, and an unkeyed
# selectbox whose options change is a new widget, reset to the first entry (a 15-run sweep).
start = st.selectbox("Start from", labels, index=labels.index(wanted) if wanted in labels else 0,
                     key="launch:start")
kind, key = options[start]
base, grid0, seeds0 = starting_point(store, kind, key)

with st.expander("Config", expanded=kind != "sweep", icon=":material/tune:"):
    overrides, errors = plan.overrides(base, config_form(base, start))
lr_find_section(db_path(), {**base, **overrides}, start, str(key))

st.subheader("Sweep")
mode = st.radio("Mode", (GRID, RANDOM_SEARCH), horizontal=True, key=f"{start}:mode",
                index=1 if st.query_params.get("mode") == "search" else 0,  # ?mode=search opens the search form
                help="Grid: every combination of the listed values. Random search: each key drawn on its own "
                "scale (log for the learning rate), as the tuning guides advise; then zoom in on the best.")
searching = mode == RANDOM_SEARCH
texts: dict[str, str] = {}
if searching:
    space, search_errors, search_opts = search_inputs(base, start)
else:
    texts = sweep_inputs(grid0, start)
cols = st.columns(4)
seeds = int(cols[0].number_input("Seeds (repeats of every point)", 1, 20, seeds0, key=f"{start}:seeds"))
concurrency = int(cols[1].number_input("Concurrency (runs at once)", 1, 16, 2, key=f"{start}:concurrency"))
executor = cols[2].selectbox("Executor", EXECUTORS, key="launch:executor",
                             help="local: background processes on this machine; ray: tasks on a Ray cluster "
                             "(pip install -r requirements-ray.txt)")
address = cols[3].text_input("Ray address", "", disabled=executor != "ray", key="launch:address",
                             help="the head's address, e.g. 10.0.0.1:6379 (traindoc must run on the head node, "
                             "where the database is); empty starts a local Ray instance")
name = st.text_input("Group name", value=str(key) if kind != "run" else f"from run {key}",
                     key=f"{start}:group-name")
stop = st.toggle("Stop a run on a critical finding", help=f"The live doctor ends it `stopped` when one of "
                 f"{', '.join(STOPPABLE)} fires (traindoc/live_doctor.py).", key="launch:stop-on")

grid: dict[str, list] = {}
for sweep_key, text in texts.items():
    try:
        grid[sweep_key] = sweep.parse_values(sweep_key, text)
    except ConfigError as exc:
        errors[sweep_key] = str(exc)
if searching:
    errors.update(search_errors)
    if not space and not search_errors:
        errors["search"] = "pick a parameter to search"
for bad in errors.values():
    st.error(md(bad))

extra_spec = {"stop_on": list(STOPPABLE)} if stop else {}
if searching and not errors:
    # one sampler seed per form: the draws (and so the plan) stay the same across reruns
    seed = st.session_state.setdefault(f"{start}:search-seed", random.SystemRandom().randrange(2**31))
    found = search.Search(space, trials=search_opts["trials"], sampler=search_opts["sampler"], seed=seed,
                          prune=search_opts["prune"])
    launch_plan = plan.Plan.search(name.strip() or "search", {**base, **overrides}, found, seeds=seeds,
                                   concurrency=concurrency, executor=executor, address=address or None,
                                   extra_spec=extra_spec)
    grid = {"search": [describe(space), search_opts["sampler"], search_opts["trials"], search_opts["prune"]]}
else:
    launch_plan = plan.Plan(name.strip() or "sweep", {**base, **overrides}, grid, seeds=seeds,
                            concurrency=concurrency, executor=executor, address=address or None,
                            extra_spec=extra_spec)
try:
    n_runs = len(launch_plan.runs()) if not errors else 0
except ConfigError as exc:
    errors["plan"] = str(exc)
    st.error(md(exc))
    n_runs = 0
signature = repr((launch_plan.name, sorted(launch_plan.base.items()), sorted(grid.items()), seeds, concurrency,
                  executor, address, stop))


def _submit() -> None:
    """On click, before the rerun draws the button again: so the rerun already shows it disabled."""
    group_id, _ = plan.submit(store, launch_plan)
    st.session_state["launch:queued"] = (signature, group_id)
    st.toast(f"Group #{group_id} queued")


queued = st.session_state.get("launch:queued")
already_queued = bool(queued and queued[0] == signature)
confirmed = True
if n_runs >= LARGE_SUBMISSION and not errors and not already_queued:
    points = n_runs // max(seeds, 1)
    # keyed by the plan itself: any change to what would be queued asks again
    confirmed = st.checkbox(f"Yes, queue all {n_runs} runs ({points} points × {seeds} seed{'s' if seeds != 1 else ''})",
                            key=f"launch:confirm:{zlib.crc32(signature.encode())}",
                            help=f"Submissions of {LARGE_SUBMISSION} runs or more ask once: cut the sweep's values "
                            "or seeds above for a smaller one.")
if errors:
    label, disabled = f"Queue — first fix {', '.join(sorted(errors))}", True
elif already_queued:
    label, disabled = f"Queued as group #{queued[1]} — change something to queue again", True
else:
    label, disabled = f"Queue {n_runs} run{'s' if n_runs != 1 else ''}", not n_runs or not confirmed
st.button(label, type="primary", disabled=disabled, icon=":material/play_arrow:", on_click=_submit,
          key="launch:queue")

scripts_section(store)

st.subheader("Queue")


@st.fragment(run_every=2)
def queue() -> None:
    """Recent groups of every session (also those queued from the CLI), refreshed alone."""
    recent = store.groups().head(5)
    if recent.empty:
        st.info("Nothing queued yet: the groups you (or anyone using this database) launch appear here.")
        return
    holder = store.scheduler_holder()
    waiting = len(store.queued())
    if holder:
        st.caption(f"Scheduler: running as pid {holder['pid']}")
    else:  # queued runs without a live scheduler: one is being started (plan.submit starts it)
        st.caption(f"Scheduler: starting for {waiting} queued run{'s' if waiting != 1 else ''}…" if waiting
                   else "Scheduler: idle (nothing queued)")
    for group in recent.to_dict("records"):
        with st.container(border=True):
            group_progress(store, group, store.runs(group_id=int(group["id"])))
            found = search.spec_line(group["spec"])
            if found:
                st.caption(md(found))


queue()
