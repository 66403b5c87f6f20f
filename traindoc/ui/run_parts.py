"""The run page's live header (status, duration, steps, cancel) and its chart controls."""

from __future__ import annotations

from typing import Any

import streamlit as st

from runner import launcher
from runner.store import ACTIVE, Store
from traindoc.ui.shared import duration
from traindoc.views import overview
from traindoc.views.cache import store_for
from traindoc.views.charts import X_AXES

SMOOTHING = {"auto (by point density)": "auto", "off": 0.0, "light (0.6 per step)": 0.6,
             "strong (0.9 per step)": 0.9}


@st.cache_data(max_entries=512, show_spinner=False)
def run_length(db: str, run_id: int, last_step: int | None) -> tuple[str, str]:
    """The header's length figure (a count over every row of the run, a quarter second on a million points),
    read once per (run, last step)."""
    return overview.run_length(store_for(db), run_id)


def run_header(store: Store, run: dict[str, Any]) -> None:
    """Status, duration and steps follow the run live (they rerun with the progress bar)."""
    run_id = int(run["id"])

    @st.fragment(run_every=2 if run["status"] in ACTIVE else None)
    def _header() -> None:
        now = store.run(run_id)
        # a row that wraps, each metric as wide as its value: fixed columns cut "finished" to "fin…" at 1024 px
        row = st.container(horizontal=True, gap="large", vertical_alignment="center")
        row.metric("Status", now["status"], width="content")
        row.metric("Device", now["device"] or "—", width="content")
        row.metric("Duration", duration(now) or "—", width="content")
        row.metric(*run_length(str(store.path), run_id, now["last_step"]), width="content")
        row.metric("Source", now["source"], width="content")
        if now["meta"].get("ray_node_id"):  # a Ray run: which node of the cluster trained it
            row.metric("Node", f"{now['meta'].get('ray_host', '?')} · {now['meta']['ray_node_id'][:8]}",
                       width="content", help=f"Ray node {now['meta']['ray_node_id']}")
        if now["status"] in ACTIVE:
            row.button("Cancel run", icon=":material/cancel:", key="run:cancel",
                           on_click=launcher.cancel, args=(store, run_id))
            done = float(now["progress"] or 0)
            st.progress(done, text=f"{now['status']} · {done:.0%} · step {now['last_step'] or 0:,}")
        if now["status"] != run["status"]:
            st.rerun()  # it finished, failed or was cancelled: redraw the whole page

    _header()


def chart_controls(run_id: int, names: list[str], opening: list[str],
                   opening_log: bool = False) -> tuple[list[str], Any, bool, str, bool]:
    """(metrics, smoothing, log y, x-axis, panel per metric) as the user set them; ``opening`` is the
    first selection (``opening_metrics``), ``opening_log`` whether it opens on a log axis."""
    if not names:
        return [], "auto", False, "step", False
    picked = st.multiselect("Metrics", names, default=opening, key=f"metrics-{run_id}")
    row = st.container(horizontal=True, gap="medium", vertical_alignment="bottom")  # wraps, never clips
    axis = row.segmented_control("x-axis", X_AXES, default="step", key="run:x") or "step"
    smoothing = SMOOTHING[row.selectbox("Smoothing", list(SMOOTHING), key="run:smoothing", width=240,
                                            help="auto smooths only dense curves (EMA over ~1/30 of the "
                                            "curve); sparse per-epoch curves are drawn as logged, with "
                                            "their points. The raw curve stays faint behind a smoothed one.")]
    panels = row.toggle("Panel per metric", value=False, key="run:panels")
    log_y = row.toggle("Log y", value=opening_log, key=f"run:log:{run_id}",
                       help="On by itself when the first curves span three or more powers of ten "
                       "(gradient norms, a diverged loss).")
    return picked, smoothing, log_y, axis, panels
