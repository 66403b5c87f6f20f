"""Compare: a group or hand-picked runs — overlaid curves of the metrics they share, the config keys that
vary, the metrics table (CSV), and for a real sweep sensitivity and parallel coordinates."""

from __future__ import annotations

import streamlit as st

from diagnostics.compare import compare
from diagnostics.sweep_figures import overlay_figure, parallel_figure, sensitivity_figure, wide_range
from diagnostics.sweeps import score_columns, style_differences, summary_table
from runner.store import ACTIVE
from runner.textsafe import csv_text
from traindoc.ui.importance import importance_panel
from traindoc.ui.shared import db_path, finding_card, get_store, md, run_data
from traindoc.ui.zoom import round_of_runs, search_caption, with_rounds, zoom_panel
from traindoc.views.compare import comparable, curves, is_sweep, overlay_points, trimmed_table
from traindoc.views.overview import short

store = get_store()
db = db_path()
st.title(":material/compare_arrows: Compare runs")
runs = store.runs()
if runs.empty:
    st.info("No runs yet: launch a sweep from the Launch page, then compare it here.")
    st.stop()

groups = store.groups()
wanted = st.query_params.get("group", "")
if wanted and (not wanted.isdigit() or int(wanted) not in set(groups.id)):  # say so; never switch silently
    st.error(f"There is no group with id {md(wanted)} in this database.")
    st.page_link("pages/compare.py", label="Pick runs or a group instead", icon=":material/compare_arrows:")
    st.stop()
by_group = st.radio("Compare", ["a group", "runs I pick"], horizontal=True,
                    index=1 if groups.empty or st.query_params.get("runs") else 0)
group = None
round_groups: list[int] = []
rounds: dict[int, int] = {}
if by_group == "a group" and not groups.empty:
    labels = {int(g.id): f"#{g.id} {short(g.name, 50)} ({g.kind})" for g in groups.itertuples()}
    ids = list(labels)
    group_id = st.selectbox("Group", ids, format_func=labels.get, index=ids.index(int(wanted)) if wanted else 0)
    if st.query_params.get("group") != str(group_id):  # writing the same value would cost a rerun
        st.query_params["group"] = str(group_id)
    group = store.group(group_id)
    picked = sorted(int(i) for i in runs[runs.group_id == group_id].id)
    if group["parent_run_id"] is not None:  # a fix group also shows the run it fixes
        picked = [int(group["parent_run_id"]), *picked]
    round_groups, rounds = round_of_runs(store, group)  # a search's rounds (zoom in) are shown together
    if len(round_groups) > 1:
        picked = sorted(rounds)
else:
    labels = {int(r.id): f"#{r.id} {short(r.name, 50)} ({r.status})" for r in runs.itertuples()}
    asked = [i for i in st.query_params.get("runs", "").split(",") if i]
    missing = [i for i in asked if not i.isdigit() or int(i) not in labels]
    if missing:
        st.warning(f"No run with id {md(', '.join(missing))} in this database; comparing the others.")
    default = [int(i) for i in asked if i not in missing]
    picked = st.multiselect("Runs", list(labels), default=default or list(labels)[:2], format_func=labels.get)
if len(picked) < 2:
    st.info("Pick at least two runs to compare.")
    st.stop()

live = bool(runs[runs.id.isin(picked)].status.isin(ACTIVE).any())


@st.fragment(run_every=2 if live else None)
def comparison() -> None:
    current = store.runs()
    current = current[current.id.isin(picked)].sort_values("id")
    data = [run_data(db, int(r.id), None if r.last_step != r.last_step else int(r.last_step))
            for r in current.itertuples()]
    what = comparable(data)
    table = with_rounds(trimmed_table(summary_table(data), what.keys), rounds)
    scores = score_columns(table)
    if live:
        done = float(current.progress.fillna(0).mean())
        st.progress(done, text=f"{int((~current.status.isin(ACTIVE)).sum())}/{len(current)} runs done")
    if not what.metrics:
        st.info("These runs logged no metrics yet.")
        return
    curve = st.selectbox("Curve", what.metrics, index=what.metrics.index(what.default) if what.default else 0,
                         help="Metrics every chosen run logged come first.")
    colour_key = what.keys[0] if what.keys and is_sweep(group, what.keys) else None
    drawn = curves(data, curve, what.keys)
    log_y = st.toggle("Log y", value=wide_range(drawn), key=f"compare:log:{curve}",
                      help="On by itself when the curves span three or more powers of ten (a diverged run "
                      "would flatten the others).")
    st.plotly_chart(overlay_figure(drawn, curve, colour_key, log_y=log_y, max_points=overlay_points(len(drawn))),
                    width="stretch", key="overlay")
    st.subheader("Runs")
    st.caption("Highlighted: config keys that differ between the runs that have a config."
               if what.keys else "The runs' configs do not differ (or they have none).")
    st.dataframe(style_differences(table), hide_index=True, width="stretch")
    st.download_button("Download CSV", csv_text(table).encode(), file_name="compare.csv",  # no formulas
                       mime="text/csv", icon=":material/download:")
    numeric = [k for k in what.keys if k in table and table[k].nunique() > 1]
    if scores and numeric and is_sweep(group, numeric):
        metric = st.selectbox("Score", scores, help="final = last value, best = best value over the run")
        st.subheader("Sensitivity")
        cols = st.columns(2)
        for i, key in enumerate(numeric):
            cols[i % 2].plotly_chart(sensitivity_figure(table, key, metric), width="stretch", key=f"sens-{key}")
        if len(numeric) >= 2:
            st.plotly_chart(parallel_figure(table, numeric, metric), width="stretch", key="parallel")
    importance_panel(data)
    st.subheader("Cross-run findings")
    findings = compare(data)
    if not findings:
        st.caption("No sweep pattern found: the runs differ in more than one key, or in none that is compared "
                   f"({md(', '.join(what.keys)) or 'identical configs'}).")
    for finding in findings:
        finding_card(finding)
    if live and not current.status.isin(ACTIVE).any():
        st.rerun()


if round_groups:
    search_caption(store, round_groups)
comparison()
if round_groups:
    zoom_panel(store, store.group(round_groups[-1]))  # coarse to fine: from the latest round
