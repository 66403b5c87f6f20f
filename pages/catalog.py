"""Rule catalog: what each rule detects, why it matters and what to do, from the rules' docstrings."""

from __future__ import annotations

import streamlit as st

from traindoc.ui.shared import SEVERITY_STYLE, catalog

st.title(":material/menu_book: Rule catalog")
st.caption(
    "Every check traindoc runs on a run's curves and config, generated from the rules' docstrings. "
    "Rule ids are stable: they appear in `python -m diagnostics --json` output and never change meaning."
)

rules, problem = catalog()
if problem:
    st.info(problem)
    st.stop()
if not rules:
    st.info("No rules are registered.")
    st.stop()

left, right = st.columns(2)
severities = left.multiselect("Severity", list(SEVERITY_STYLE), default=list(SEVERITY_STYLE))
query = right.text_input("Search", placeholder="e.g. loss, lr, gradient").strip().lower()
shown = [r for r in rules if r["severity"] in severities
         and (not query or query in (r["id"] + r["title"] + " ".join(r["sections"].values())).lower())]
st.caption(f"{len(shown)} of {len(rules)} rules")

for rule in shown:
    icon, colour = SEVERITY_STYLE.get(rule["severity"], (":material/help:", "gray"))
    with st.expander(f"{icon} **{rule['title']}** · `{rule['id']}`"):
        kind = "compares runs of a sweep" if rule["kind"] == "comparison" else "judges one run"
        needs = f" · needs {', '.join(f'`{n}`' for n in rule['needs'])}" if rule["needs"] else ""
        st.markdown(f":{colour}-badge[{rule['severity']}] {kind}{needs}")
        for heading, text in rule["sections"].items():
            st.markdown(f"**{heading}**  \n{text}")
        if not rule["parameters"].empty:
            st.markdown("**Parameters** (overridable)")
            st.dataframe(rule["parameters"], hide_index=True, width="stretch")
