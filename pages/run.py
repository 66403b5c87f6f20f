"""One run: status, live curves with the findings' evidence marked, finding cards, config."""

from __future__ import annotations

import itertools

import streamlit as st

from diagnostics.figures import curve_figure
from diagnostics.sweep_figures import wide_range
from runner.alerts import failure_line
from runner.store import ACTIVE
from traindoc.ui.fixes import fix_actions, fix_results, fixes_active
from traindoc.ui.report import report_buttons
from traindoc.ui.run_parts import chart_controls, run_header
from traindoc.ui.shared import (
    STATUS_ICONS,
    config_markdown,
    db_path,
    diagnose_run,
    finding_card,
    get_store,
    md,
    opening_metrics,
    series,
    start_links,
)
from traindoc.views.cache import against, diagnosis_ready
from traindoc.views.charts import align_x, shared_x_range, system_findings, system_metrics, x_map
from traindoc.views.overview import short, store_gap_lines

store = get_store()
db = db_path()
BASELINE_COLOUR = "#7f7f7f"  # the baseline's curves: grey and dashed, behind the run's own colours
BASELINE_DASHES = ("dash", "dot", "dashdot", "longdash")  # one per metric, so its curves stay told apart
runs = store.runs()
if runs.empty:
    st.title("Run")
    st.info("No runs yet: start one with `python -m runner run --preset healthy` (or from the Launch page), "
            "or upload a log, then come back.")
    start_links()
    st.stop()

labels = {int(r.id): f"#{r.id} {short(r.name, 60)} ({r.status})" for r in runs.itertuples()}
wanted = st.query_params.get("run", "")
if wanted and (not wanted.isdigit() or int(wanted) not in labels):  # say so; never show another run silently
    st.title("Run not found")
    st.error(f"There is no run with id {md(wanted)} in this database (it may have been deleted).")
    st.page_link("pages/overview.py", label="All runs", icon=":material/table_rows:")
    st.stop()
ids = list(labels)
start = ids.index(int(wanted)) if wanted else 0
run_id = st.sidebar.selectbox("Run", ids, index=start, format_func=labels.get)
if st.query_params.get("run") != str(run_id):  # writing the same value would cost a rerun
    st.query_params["run"] = str(run_id)
run = store.run(run_id)

st.title(f"{STATUS_ICONS.get(run['status'], '')} {md(short(run['name'], 80))}")
if len(run["name"]) > 80:
    st.caption(md(run["name"]))
tags = store.tags(run_id).get(run_id, [])
if run["note"] or tags:
    st.caption(" · ".join([f":material/sticky_note_2: {md(run['note'])}"] * bool(run["note"])
                          + [f":material/sell: {md(', '.join(tags))}"] * bool(tags)))


run_header(store, run)
if run["parent_id"]:  # a fix or comparison run: one click back to the run it was derived from
    st.page_link("pages/run.py", label=f"Derived from run #{run['parent_id']}", icon=":material/call_split:",
                 query_params={"run": str(run["parent_id"])})
if run["error"] and run["status"] in ("failed", "crashed", "cancelled", "stopped"):
    if run["status"] == "cancelled":
        st.warning("This run was cancelled. What it logged before stopping is kept below.")
    elif run["status"] == "stopped" and (run.get("meta") or {}).get("pruned"):  # a search's pruner
        st.info(f"The search pruned this trial: {md(run['error'])}. What it logged is kept below.")
    elif run["status"] == "stopped":  # the live doctor, as asked at launch (traindoc/live_doctor.py)
        st.warning("The live doctor stopped this run on a critical finding. What it logged is kept below.")
    else:
        st.error(f"This run {run['status']}. The error it recorded is below: fix the config (or the "
                 "script) and launch it again.")
    st.code(run["error"], language=None, wrap_lines=True)
for line in store_gap_lines(run["meta"]):  # a store fault the logging API rode out (README, "Reliability")
    st.warning(md(line[0].upper() + line[1:]), icon=":material/sync_problem:")
if alert_failed := failure_line(run["meta"]):  # the webhook did not take an alert (runner/alerts.py)
    st.warning(md(alert_failed), icon=":material/notifications_off:")

baseline_id = store.baseline_for(run_id)
baseline = store.run(baseline_id) if baseline_id is not None else None
if baseline is not None and run["status"] == "finished":  # the same verdict logic as a fix's
    measured = against(db, run_id, run["last_step"], baseline_id, baseline["last_step"])
    if measured is not None:
        show = {"better": st.success, "worse": st.warning}.get(measured.verdict, st.info)
        show(f"Against baseline #{baseline_id} {md(baseline['name'])}: {md(measured.reason)}", icon=":material/flag:")

names = store.metric_names(run_id)
if not names:
    st.info("This run has logged no metrics yet." + (" The chart appears as soon as it does."
                                                     if run["status"] in ACTIVE else ""))


def opening_chart(findings: list) -> tuple[list[str], bool]:
    """The metrics the chart opens on and whether on a log axis (the curves span powers of ten)."""
    opening = opening_metrics(db, run_id, run["last_step"], names, findings) if names else []
    return opening, bool(opening) and wide_range(
        [{"values": values} for _, values in series(db, run_id, run["last_step"], tuple(opening)).values()])


controls = st.container()
first_chart = st.empty()
if names and not diagnosis_ready(db, run_id, run["last_step"]):
    # Reading and judging a long run takes seconds on a fresh server: its curves (the store's rollups,
    # milliseconds) are drawn first, so the browser loads its chart code meanwhile; the chart with the
    # findings marked replaces this one below the controls.
    first, first_log = opening_chart([])
    first_chart.plotly_chart(curve_figure(series(db, run_id, run["last_step"], tuple(first)), smoothing="auto",
                                          log_y=first_log), width="stretch", key="first-curves")
found, _ = diagnose_run(db, run_id, run["last_step"])
opening, opening_log = opening_chart(found)
with controls:
    picked, smoothing, log_y, axis, panels = chart_controls(run_id, names, opening, opening_log)
first_chart.empty()


@st.fragment(run_every=2 if run["status"] in ACTIVE else None)
def live_view() -> None:
    """Only chart and findings rerun while the run is live: new rows miss the (run, last step) cache."""
    now = store.run(run_id)
    findings, note = diagnose_run(db, run_id, now["last_step"])
    if names and not picked:
        st.info("Pick one or more metrics to plot.")
    system = system_metrics(names)
    # one step → x map for both charts, and one x range: the System group lines up under the curves
    xs, x_title = x_map(db, run_id, now["last_step"], tuple(picked) + tuple(system), axis)
    data = series(db, run_id, now["last_step"], tuple(picked)) if picked else {}
    system_data = series(db, run_id, now["last_step"], tuple(system)) if system else {}
    beside = series(db, baseline_id, baseline["last_step"], tuple(picked)) \
        if picked and baseline is not None and axis == "step" and not panels else {}
    span = shared_x_range(xs, data, system_data, beside)
    if picked:
        figure = curve_figure(data, smoothing=smoothing, log_y=log_y, findings=findings, x_map=xs,
                              x_title=x_title, panels=panels)
        align_x(figure, span)
        # the baseline's curves, dashed, on the same steps
        for (name, (steps, values)), dash in zip(beside.items(), itertools.cycle(BASELINE_DASHES), strict=False):
            figure.add_scatter(x=steps, y=values, name=f"baseline #{baseline_id}: {name}", mode="lines",
                               line={"dash": dash, "color": BASELINE_COLOUR, "width": 1.5})
        st.plotly_chart(figure, width="stretch", key="curves")
    if system:
        st.subheader("System")
        st.caption("Step time (s), samples per second and memory (MB), sampled at each flush of the metric "
                   "writer: no extra device sync. On the curves' x-axis and range, so a memory rise or a "
                   "slowdown sits under the loss of the same steps.")
        system_figure = curve_figure(system_data, findings=system_findings(findings, system), x_map=xs,
                                     x_title=x_title, panels=True)
        align_x(system_figure, span)
        st.plotly_chart(system_figure, width="stretch", key="system")
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
report_buttons(store, db, run, picked)

st.subheader("Config")
if run["config"]:
    st.markdown(config_markdown(run["config"]))
else:
    st.caption("This run stored no config.")
