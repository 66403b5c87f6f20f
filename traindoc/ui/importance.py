"""The compare page's importance panel: for runs where two or more config keys vary over enough runs,
each key's share of the spread of the score (fANOVA, ``diagnostics.importance``), as bars and in words."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from diagnostics.importance import MIN_RUNS, importance, varying
from diagnostics.rundata import RunData
from diagnostics.tuning_figures import importance_figure
from traindoc.ui.shared import md


def importance_panel(runs: Sequence[RunData]) -> None:
    """Nothing for a one-key sweep (the sensitivity view covers it); a short note when runs are too few."""
    if len(varying(runs)) < 2:
        return
    st.subheader("Which hyper-parameters mattered")
    found = importance(runs)
    if found is None:
        st.caption(f"Importance needs at least {MIN_RUNS} runs with a validation score where two or more keys "
                   "vary (and Optuna installed): a random search over the keys gives it.")
        return
    st.plotly_chart(importance_figure(found.shares, f"best {found.metric}"), width="stretch", key="importance")
    st.markdown(md(found.words()))
    st.caption("Share of the spread: fANOVA importance (Optuna) on the runs' config values and best score, "
               "i.e. how much of the variance of a random forest's prediction each key explains alone.")
