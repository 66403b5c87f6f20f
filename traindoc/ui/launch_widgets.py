"""Widgets of the launch page: the config form generated from ``runner.config.schema()``, the sweep
inputs, and a group's live progress with cancel buttons. Logic stays in ``runner.plan``."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from runner import launcher, plan, presets, reproduce, sweep, sweep_presets
from runner.config import schema
from runner.store import ACTIVE, Store
from traindoc.core.configs import LOG_KEYS
from traindoc.ui.shared import STATUS_ICONS, md


def sources(store: Store) -> dict[str, tuple[str, Any]]:
    """What a launch may start from: built-in sweeps, presets, finished runs (label → (kind, key))."""
    out: dict[str, tuple[str, Any]] = {f"sweep · {s.name}": ("sweep", s.name)
                                       for s in sweep_presets.SWEEP_PRESETS.values()}
    out.update({f"preset · {name}": ("preset", name) for name in presets.PRESETS})
    runs = store.runs()
    for run in reproduce.launchable_from(runs).head(50).itertuples():
        out[f"run #{run.id} · {run.name}"] = ("run", int(run.id))
    return out


def starting_point(store: Store, kind: str, key: Any) -> tuple[dict[str, Any], dict[str, list[Any]], int]:
    """(base flat config, sweep grid, seeds) for the chosen source."""
    if kind == "sweep":
        chosen = sweep_presets.get(key)
        return presets.get(chosen.preset).config(chosen.overrides).to_flat(), chosen.grid, chosen.seeds
    if kind == "run":
        return plan.base_config(run_config=store.run(key)["config"]).to_flat(), {}, 1
    return presets.get(key).config().to_flat(), {}, 1


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_form(base: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Every config key as a widget, one tab per section; returns the raw values (validated by the caller)."""
    fields = schema()
    sections = list(dict.fromkeys(k.split(".")[0] for k in fields))
    raw: dict[str, Any] = {}
    for section, tab in zip(sections, st.tabs(sections), strict=True):
        cols = tab.columns(3)
        for i, key in enumerate(k for k in fields if k.startswith(section + ".")):
            meta, col, wkey = fields[key].metadata, cols[i % 3], f"{prefix}:{key}"
            if "choices" in meta:
                raw[key] = col.selectbox(key, meta["choices"], index=meta["choices"].index(base[key]),
                                         help=meta["help"], key=wkey)
            elif isinstance(base[key], bool):
                raw[key] = col.checkbox(key, value=base[key], help=meta["help"], key=wkey)
            else:
                raw[key] = col.text_input(key, value=_shown(base[key]), key=wkey,
                                          help=f"{meta['help']} (allowed {meta['min']:g} to {meta['max']:g})")
    return raw


def sweep_inputs(grid: dict[str, list[Any]], prefix: str) -> dict[str, str]:
    """Keys to sweep and their values as text (a list, or 'log LOW HIGH COUNT' for log-spaced values)."""
    keys = st.multiselect("Parameters to sweep (several: every combination)", plan.sweepable_keys(),
                          default=list(grid), key=f"{prefix}:sweep-keys")
    texts: dict[str, str] = {}
    fields = schema()
    for key in keys:
        default = ", ".join(_shown(v) for v in grid.get(key, []))
        left, right = st.columns([3, 2], vertical_alignment="bottom")
        choices = fields[key].metadata.get("choices") if key in fields else None
        if choices:  # a categorical key: its allowed values to pick, never numbers to type
            picked = left.multiselect(f"Values of {key}", list(choices), key=f"{prefix}:choices:{key}",
                                      default=[v for v in grid.get(key, []) if v in choices] or None,
                                      placeholder="pick two or more")
            texts[key] = ", ".join(picked)
            right.caption("Each choice is run (× seeds); the Compare page ranks them by score.")
            continue
        texts[key] = left.text_input(f"Values of {key}", value=default, key=f"{prefix}:values:{key}",
                                     placeholder="e.g. 1e-1, 1e-4, 1e-8  or  log 1e-8 1e-1 5")
        if key in LOG_KEYS:
            right.caption(f"Log-spaced: write `log LOW HIGH COUNT`, e.g. `log 1e-8 1e-1 5` → "
                          f"{', '.join(_shown(v) for v in sweep.log_spaced(1e-8, 1e-1, 5))}")
    return texts


def _cancel(store: Store, run_ids: list[int]) -> None:
    for run_id in run_ids:
        launcher.cancel(store, run_id)


def group_progress(store: Store, group: dict[str, Any], runs: pd.DataFrame) -> None:
    """The group's bar, then one bar per run (its error when it failed) with a cancel button."""
    active = runs[runs.status.isin(ACTIVE)]
    done = float(runs.progress.fillna(0).clip(0, 1).mean()) if len(runs) else 0.0
    counts = " · ".join(f"{n} {s}" for s, n in runs.status.value_counts().items())
    head, cancel_all, link = st.columns([6, 1.2, 1.2], vertical_alignment="center")
    head.progress(done, text=f"**Group #{group['id']} {md(group['name'])}** — {counts}")
    cancel_all.button("Cancel group", key=f"cancel-group-{group['id']}", disabled=active.empty,
                      on_click=_cancel, args=(store, [int(i) for i in active.id]))
    link.page_link("pages/compare.py", label="Compare", icon=":material/compare_arrows:",
                   query_params={"group": str(group["id"])})
    for run in runs.sort_values("id").itertuples():
        bar, button, opened = st.columns([6, 1.2, 1.2], vertical_alignment="center")
        opened.page_link("pages/run.py", label=f"Run #{run.id}", icon=":material/show_chart:",
                         query_params={"run": str(run.id)})
        bar.progress(float(run.progress or 0), text=f"{STATUS_ICONS.get(run.status, '')} #{run.id} "
                     f"{md(run.name)} · {run.status} · {float(run.progress or 0):.0%}")
        if run.status in ACTIVE:
            button.button("Cancel", key=f"cancel-{run.id}", on_click=_cancel, args=(store, [int(run.id)]))
        if run.status in ("failed", "crashed") and isinstance(run.error, str):
            bar.error(f"Run #{run.id} {run.status}: {md(run.error)}")
