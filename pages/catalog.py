"""Rule catalog: what each rule detects, why it matters and what to do, from the rules' docstrings."""

from __future__ import annotations

import streamlit as st

from pages._shared import SEVERITY_STYLE, catalog

st.title(":material/menu_book: Rule catalog")
st.caption("Every check traindoc runs on a run's curves and config. Rule ids are stable: they appear in "
           "`python -m diagnostics --json` output and never change meaning.")

rules, problem = catalog()
if problem:
    st.info(problem)
    st.stop()
if not rules:
    st.info("No rules are registered.")
    st.stop()

wanted = st.multiselect("Severity", list(SEVERITY_STYLE), default=list(SEVERITY_STYLE))
for rule in (r for r in rules if r["severity"] in wanted or r["severity"] not in SEVERITY_STYLE):
    icon, colour = SEVERITY_STYLE.get(rule["severity"], (":material/help:", "gray"))
    with st.expander(f"{icon} {rule['title']}  ·  {rule['id']}"):
        st.markdown(f":{colour}-badge[{rule['severity']}] `{rule['id']}`")
        for heading, text in rule["sections"].items():
            st.markdown(f"**{heading}**")
            st.markdown(text)
