"""The Launch page's learning-rate range test: run it on the form's config, draw loss against lr
(log axis), and fill the form's ``optim.lr`` with the suggestion; every other value typed stays."""

from __future__ import annotations

from typing import Any

import streamlit as st

from diagnostics.tuning_figures import lr_find_figure
from runner.config import ConfigError, from_flat
from runner.lr_find import DEFAULT_STEPS, MAX_LR, MIN_LR, range_test, smoothed, stored_curve
from runner.store import Store
from traindoc.ui.shared import md


def _fill(widget_key: str, lr: float) -> None:
    """On click, before the form is drawn again: the lr field shows the suggestion."""
    st.session_state[widget_key] = f"{lr:.3g}"


def lr_find_section(db: str, config: dict[str, Any], prefix: str, label: str) -> None:
    """A button that runs the range test (seconds: ~100 steps) and what the last one found for this form."""
    done_key = f"{prefix}:lr-find-run"
    with st.expander("Learning-rate range test", icon=":material/query_stats:", expanded=done_key in st.session_state):
        st.caption(f"A short run ({DEFAULT_STEPS} steps) on this config with the lr growing from {MIN_LR:g} to "
                   f"{MAX_LR:g}, stopped when the loss blows up; the suggestion is where the smoothed loss falls "
                   "fastest (as the fastai and Lightning finders do). The run is kept, tagged `lr-find`.")
        if st.button("Find a learning rate", icon=":material/search:", key=f"{prefix}:lr-find"):
            try:
                cfg = from_flat(config)
            except ConfigError as exc:
                st.error(md(exc))
                return
            try:
                with st.spinner("Range test running…"):
                    run_id, _ = range_test(Store(db), f"lr-find {label}", cfg, meta={"from": label})
            except RuntimeError as exc:  # a TrainingError (train.device=cuda without CUDA) or a StoreError
                st.error(f"The range test could not run: {md(exc)}. Change the config above and try again.")
                return
            st.session_state[done_key] = run_id
        run_id = st.session_state.get(done_key)
        if run_id is None:
            return
        lrs, losses, found = stored_curve(Store(db), run_id)
        suggested = found.get("lr")
        st.plotly_chart(lr_find_figure(lrs, losses, smoothed(losses), suggested), width="stretch",
                        key="lr-find-chart")
        st.caption(f"Run #{run_id}: {md(found.get('reason', 'no result stored'))}.")
        if suggested is not None:
            st.button(f"Use optim.lr = {suggested:.3g}", icon=":material/input:", key=f"{prefix}:lr-find-use",
                      on_click=_fill, args=(f"{prefix}:optim.lr", suggested),
                      help="Puts the suggestion in the config form's optim.lr; everything else stays as typed.")
