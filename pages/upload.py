"""Upload: drop training logs (files or a zip); each becomes a run, diagnosed at once; fix the name mapping;
tag the runs with the hyper-parameter that differs and compare them like a sweep."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from diagnostics.figures import curve_figure
from runner.importers import FORMATS
from runner.importers.upload import correct_mapping, import_upload, tag_as_sweep
from traindoc.ui.shared import db_path, diagnose_run, finding_card, get_store, md, opening_metrics, series
from traindoc.ui.upload_bar import FileProgress
from traindoc.views.cache import forget_diagnoses
from traindoc.views.overview import length_caption
from traindoc.views.uploads import name_uploaded

store = get_store()
db = db_path()
st.title(":material/upload: Upload training logs")
st.caption("Formats, detected from the content: " + "; ".join(f.label for f in FORMATS.values())
           + ". A `hparams.json`, `hparams.yaml`, `args.yaml` or `training_args.json` in the same zip becomes "
             "the run's config.")
given = st.text_input("Run name (optional)", key="upload:name", max_chars=200,
                      help="Empty: each run is named after its folder in the upload, e.g. lightning_logs/version_0.")
files = st.file_uploader("Drop log files or a zip of a log folder", accept_multiple_files=True, key="uploads")
done: dict[str, list[int]] = st.session_state.setdefault("uploaded", {})
for file in files or []:
    key = f"{file.file_id}:{file.name}"
    if key in done:
        continue
    bar = FileProgress(st.empty(), file.name)  # appears after a second: a big file's bytes read, rows written
    outcome = import_upload(store, file.name, file.getvalue(), progress=bar)
    bar.close()
    if not outcome.existing:  # runs an earlier upload of the same bytes made keep their names
        name_uploaded(store, outcome.run_ids, file.name, given)
    done[key] = outcome.run_ids
    if outcome.error:
        st.session_state.setdefault("upload-errors", {})[key] = outcome.error
    for note in outcome.notes:
        st.session_state.setdefault("upload-notes", {}).setdefault(key, []).append(note)

live = {k for k in (f"{f.file_id}:{f.name}" for f in files or [])}
for key, error in st.session_state.get("upload-errors", {}).items():
    if key in live:
        st.error(md(error), icon=":material/error:")
run_ids = [run_id for key, ids in done.items() if key in live for run_id in ids]
if not run_ids:  # after a failed upload "no uploaded runs yet" reads as if the drop did not register
    st.info(("Nothing was imported from these files: see why above. Try" if live else "No uploaded runs yet. Drop")
            + " a Lightning `metrics.csv`, a TensorBoard event file, a Keras log, a `trainer_state.json`, "
            "a YOLO `results.csv`... or a zip of a whole log folder.")
    st.stop()

for key, notes in st.session_state.get("upload-notes", {}).items():
    if key in live:
        with st.expander(f"Notes on {key.split(':', 1)[1]} ({len(notes)})", icon=":material/info:"):
            for note in notes:
                st.markdown(f"- {md(note)}")

for run_id in run_ids:
    run = store.run(run_id)
    st.divider()
    st.subheader(f"#{run_id} {md(run['name'])}")
    st.caption(f"{md(FORMATS[run['meta']['format']].label)} · {md(run['meta'].get('file', ''))} · "
               f"{md(length_caption(store, run_id))}")
    findings, note = diagnose_run(db, run_id, run["last_step"])
    names = store.metric_names(run_id)
    with st.expander("Metric names: original → name the doctor reads (edit to correct)"):
        mapping = run["meta"].get("mapping", {})
        frame = pd.DataFrame({"original": list(mapping), "name": list(mapping.values())})
        edited = st.data_editor(frame, disabled=["original"], hide_index=True, key=f"map-{run_id}",
                                width="stretch")
        corrected = dict(zip(edited["original"], edited["name"], strict=True))
        if corrected != mapping:
            problem = correct_mapping(store, run_id, corrected)
            if problem:
                st.error(md(problem))
            else:  # same run and last step, new names: the cached curves and findings are stale
                series.clear()
                forget_diagnoses()
                st.rerun()
    picked = opening_metrics(db, run_id, run["last_step"], names, findings)
    if picked:
        data = series(db, run_id, run["last_step"], tuple(picked))
        x_title = "epoch" if run["meta"].get("axis") == "epoch" else "step"  # a per-epoch log counts epochs
        st.plotly_chart(curve_figure(data, smoothing=0.0, findings=findings, x_title=x_title), width="stretch",
                        key=f"c{run_id}")
    if note:
        st.caption(note)
    elif not findings:
        st.success("No problems found in this log.")
    for finding in findings:
        finding_card(finding)

if len(run_ids) > 1:  # after the diagnoses: the first thing to see is what is wrong
    st.divider()
    with st.form("tag"):
        st.subheader("Compare these runs like a sweep")
        left, right = st.columns([1, 2])
        param = left.text_input("Hyper-parameter that differs", placeholder="e.g. optim.lr",
                                help="A dotted config key; each run's value is stored in its config.")
        label = right.text_input("Comparison name", value="uploaded runs")
        table = pd.DataFrame({"run": [f"#{i} {store.run(i)['name']}" for i in run_ids],
                              "value": [str(store.run(i)["config"].get(param, "")) for i in run_ids]})
        edited = st.data_editor(table, disabled=["run"], hide_index=True, key="tag-values", width="stretch")
        if st.form_submit_button("Group as a comparison", icon=":material/compare_arrows:"):
            try:
                group = tag_as_sweep(store, label, param, dict(zip(run_ids, edited["value"], strict=True)))
                st.session_state["upload:group"] = (group, run_ids)
            except ValueError as exc:
                st.error(md(exc))
    group, grouped = st.session_state.get("upload:group", (None, []))
    if group and grouped == run_ids:  # a link, not directions (a form cannot hold one); for these runs only
        st.success(f"Grouped as comparison #{group}.")
        st.page_link("pages/compare.py", label=f"Compare group #{group} side by side",
                     icon=":material/compare_arrows:", query_params={"group": str(group)})
