"""A finding's fixes for a run traindoc cannot re-run (an uploaded log, a logging-API run): worded as
code changes, with a way to tag the user's own re-run as the "after" run so the verdict compares
the user's before and after (``runner.reproduce``)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from diagnostics.findings import Finding
from runner import reproduce
from runner.store import ACTIVE, Store
from traindoc.ui.shared import md


def _tag(store: Store, run_id: int, finding: Finding, fix_text: str, key: str) -> None:
    after = st.session_state.get(key)
    if after is not None:
        reproduce.tag_after(store, run_id, int(after), finding.rule, finding.severity, fix_text)
        st.session_state["fix-launched"] = True


def code_fixes(store: Store, run: dict[str, Any], finding: Finding, why: str) -> None:
    """The ranked fixes as changes to make in the user's code, and the re-upload tagging."""
    if not finding.fixes:
        return
    st.caption(f"traindoc cannot re-run this training: {md(why)}. Change it in your code:")
    for i, fix in enumerate(finding.fixes, 1):
        st.markdown(f"{i}. {md(reproduce.code_change(fix.text, fix.config_patch))}")
    runs = store.runs()
    others = runs[(runs.id != run["id"]) & ~runs.status.isin(ACTIVE)]
    if others.empty:
        st.caption("Upload the log of your re-run, then tag it here as the \"after\" run to get a verdict.")
        return
    labels = {int(r.id): f"#{r.id} {r.name}" for r in others.itertuples()}
    key = f"after-{run['id']}-{finding.rule}"
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    left.selectbox("Your re-run after the change", list(labels), format_func=labels.get, index=None, key=key,
                   placeholder="pick the run you re-uploaded")
    right.button("Compare as the \"after\" run", key=f"{key}-tag", icon=":material/compare_arrows:",
                 disabled=st.session_state.get(key) is None,
                 on_click=_tag, args=(store, int(run["id"]), finding, finding.fixes[0].text, key),
                 help="Records that run as this finding's fix tried; the verdict compares your two runs.")
