"""Compare: a group or hand-picked runs — overlaid curves, config and metrics table, sensitivity,
parallel coordinates, the cross-run findings, and a CSV of the table."""

from __future__ import annotations

import streamlit as st

from diagnostics.compare import compare
from diagnostics.sweep_figures import overlay_figure, parallel_figure, sensitivity_figure
from diagnostics.sweeps import curves_for, differing_keys, score_columns, style_differences, summary_table
from pages._shared import db_path, finding_card, get_store, md, run_data
from runner.store import ACTIVE
from runner.textsafe import csv_text

store = get_store()
db = db_path()
st.title(":material/compare_arrows: Compare runs")
runs = store.runs()
if runs.empty:
    st.info("No runs yet: launch a sweep from the Launch page, then compare it here.")
    st.stop()

groups = store.groups()
by_group = st.radio("Compare", ["a group", "runs I pick"], horizontal=True,
                    index=1 if groups.empty or st.query_params.get("runs") else 0)
if by_group == "a group" and not groups.empty:
    labels = {int(g.id): f"#{g.id} {g.name} ({g.kind})" for g in groups.itertuples()}
    wanted = st.query_params.get("group", "")
    ids = list(labels)
    group_id = st.selectbox("Group", ids, format_func=labels.get,
                            index=ids.index(int(wanted)) if wanted.isdigit() and int(wanted) in ids else 0)
    st.query_params["group"] = str(group_id)
    picked = sorted(int(i) for i in runs[runs.group_id == group_id].id)
    parent = groups.set_index("id").parent_run_id.get(group_id)
    if parent is not None and parent == parent:  # NaN-safe: a fix group also shows the run it fixes
        picked = [int(parent), *picked]
else:
    labels = {int(r.id): f"#{r.id} {r.name} ({r.status})" for r in runs.itertuples()}
    default = [int(i) for i in st.query_params.get("runs", "").split(",") if i.isdigit() and int(i) in labels]
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
    table = summary_table(data)
    keys = differing_keys([dict(r.config) for r in data])
    scores = score_columns(table)
    if live:
        done = float(current.progress.fillna(0).mean())
        st.progress(done, text=f"{int((~current.status.isin(ACTIVE)).sum())}/{len(current)} runs done")
    left, right = st.columns(2)
    metric = left.selectbox("Metric", scores, help="final = last value, best = best value over the run")
    names = sorted({n for r in data for n in r.names if not n.startswith(("grad_norm/", "dead_frac/"))})
    curve = right.selectbox("Curve", names, index=names.index(metric.rsplit(" ", 1)[0])
                            if metric and metric.rsplit(" ", 1)[0] in names else 0)
    colour_key = keys[0] if keys else None
    st.plotly_chart(overlay_figure(curves_for(data, curve, keys), curve, colour_key), width="stretch",
                    key="overlay")
    st.subheader("Runs")
    st.caption("Highlighted: config keys that differ between the runs.")
    st.dataframe(style_differences(table), hide_index=True, width="stretch")
    st.download_button("Download CSV", csv_text(table).encode(), file_name="compare.csv",  # no formulas
                       mime="text/csv", icon=":material/download:")
    numeric = [k for k in keys if table[k].nunique() > 1]
    if metric and numeric:
        st.subheader("Sensitivity")
        cols = st.columns(2)
        for i, key in enumerate(numeric):
            cols[i % 2].plotly_chart(sensitivity_figure(table, key, metric), width="stretch", key=f"sens-{key}")
        if len(numeric) >= 2:
            st.plotly_chart(parallel_figure(table, numeric, metric), width="stretch", key="parallel")
    st.subheader("Cross-run findings")
    findings = compare(data)
    if not findings:
        st.caption("No sweep pattern found: the runs differ in more than one key, or in none that is compared "
                   f"({md(', '.join(keys)) or 'identical configs'}).")
    for finding in findings:
        finding_card(finding)
    if live and not current.status.isin(ACTIVE).any():
        st.rerun()


comparison()
