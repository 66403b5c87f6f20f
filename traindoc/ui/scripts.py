"""The launch page's "Your own scripts": register a training script once, then queue runs or a sweep of it.

Logic stays in ``runner.scripts`` (validation, parsing, queueing); this only lays out the form.
"""

from __future__ import annotations

import sys

import streamlit as st

from runner import scripts
from runner.config import ConfigError
from runner.stop_on import STOPPABLE
from runner.store import Store, StoreError
from traindoc.ui.shared import md


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def register_form(store: Store) -> None:
    with st.expander("Register a script", icon=":material/add:", expanded=not store.scripts()), \
            st.form("register-script", clear_on_submit=False):
        left, right = st.columns(2)
        # "e.g.": a bare placeholder reads as a value already filled in, then Register fails on an empty name
        name = left.text_input("Name", placeholder="e.g. digits")
        path = right.text_input("Script path", placeholder="e.g. examples/digits_mlp.py")
        interpreter = left.text_input("Interpreter", placeholder=sys.executable,
                                      help="the executable that runs it; empty: this Python")
        cwd = right.text_input("Working folder", placeholder="the script's folder")
        config = st.text_area("Default config, one key=value per line", placeholder="optim.lr=0.001\ntrain.epochs=10",
                              help="What run.config returns when nothing is swept or patched.")
        if st.form_submit_button("Register", icon=":material/app_registration:"):
            if not name.strip() or not path.strip():
                st.error("Give the script a name and the path of its file, e.g. `digits` and "
                         "`examples/digits_mlp.py`.")
                return
            try:
                defaults = scripts.parse_pairs({}, _lines(config))
                scripts.register(store, name.strip(), path.strip(), interpreter.strip() or None, cwd.strip() or None,
                                 (), defaults)
                st.success(f"Registered {md(name)}.")
            except (ConfigError, StoreError, KeyError) as exc:
                st.error(md(exc))


def launch_form(store: Store) -> None:
    registered = {s["name"]: s for s in store.scripts()}
    if not registered:
        st.caption("No script registered yet: register one above (or `python -m runner script add NAME PATH`).")
        return
    chosen = st.selectbox("Script", list(registered), key="script-name")
    script = registered[chosen]
    st.code(" ".join(scripts.argv(script)), language=None, wrap_lines=True)
    defaults = script["config"]
    left, right = st.columns(2)
    overrides = left.text_area("Config overrides, one key=value per line", key=f"script-set-{chosen}",
                               help="Defaults: " + ", ".join(f"{k}={v}" for k, v in defaults.items()))
    grid = right.text_area("Sweep, one key=v1,v2,... per line", key=f"script-grid-{chosen}",
                           placeholder="optim.lr=1e-3,1e-2")
    cols = st.columns(3)
    seeds = int(cols[0].number_input("Seeds", 1, 20, 1, key=f"script-seeds-{chosen}"))
    concurrency = int(cols[1].number_input("Concurrency", 1, 16, 2, key=f"script-conc-{chosen}"))
    stop = cols[2].toggle("Stop on a critical finding", key=f"script-stop-{chosen}",
                          help=f"The live doctor ends the run `stopped` when {', '.join(STOPPABLE)} fires.")
    try:
        plan = scripts.ScriptPlan(chosen, f"{chosen} sweep" if _lines(grid) else chosen,
                                  overrides=scripts.parse_pairs(defaults, _lines(overrides)),
                                  grid=scripts.parse_grid(defaults, _lines(grid)), seeds=seeds,
                                  concurrency=concurrency, stop_on=STOPPABLE if stop else ())
        n_runs = len(plan.points())
    except ConfigError as exc:
        st.error(md(exc))
        return
    if st.button(f"Queue {n_runs} run{'s' if n_runs != 1 else ''} of {chosen}", type="primary",
                 icon=":material/play_arrow:", key="script-queue"):
        group_id, _ = scripts.submit(store, plan)
        st.toast(f"Group #{group_id} queued")
        st.rerun()


def scripts_section(store: Store) -> None:
    """Register, then queue: the runs join the same queue as the presets' below."""
    st.subheader("Your own scripts")
    st.caption("A script that calls `traindoc.start_run()` runs as a background run like the presets; "
               "`run.config` gives it the values queued here.")
    register_form(store)
    launch_form(store)
