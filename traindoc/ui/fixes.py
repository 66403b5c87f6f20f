"""'Try this fix' on a finding card, and the verdicts of the fixes tried (run page and compare page)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from diagnostics.findings import Finding
from diagnostics.rundata import RunData
from diagnostics.sweep_figures import before_after_figure
from diagnostics.verify import Verdict, group_runs
from runner import reproduce
from runner.store import ACTIVE, Store
from traindoc.handoff import fix_group
from traindoc.ui.launch_widgets import group_progress
from traindoc.ui.own_code import code_fixes
from traindoc.ui.shared import md
from traindoc.views.cache import fix_verdicts, group_state

VERDICT_STYLE = {"verified": ("green", ":material/verified:"), "did not help": ("red", ":material/block:"),
                 "inconclusive": ("orange", ":material/help:")}


def _launch(store: Store, run: dict[str, Any], finding: Finding, fixes: list[tuple[str, dict]]) -> None:
    group_id = reproduce.submit_fix(store, run, finding.rule, finding.severity, fixes)  # preset or script run
    st.session_state["fix-launched"] = group_id


def _tried(store: Store, run_id: int, rule: str) -> dict[str, int]:
    """Fix label → the newest group that tried it on this run for this finding."""
    out: dict[str, int] = {}
    for group in store.groups_of_parent(run_id):  # newest first
        if group["kind"] == "fix" and group["spec"].get("rule") == rule:
            for variant in group["spec"].get("variants", []):
                out.setdefault(variant["label"], int(group["id"]))
    return out


def fix_actions(store: Store, run: dict[str, Any]) -> Callable[[Finding], None]:
    """The hook finding_card calls: one 'Try this fix' button per fix with a config patch, and 'try all'.

    Each button is a full-width row with the fix's whole text (distinct labels, wrapped, never cut);
    a fix already tried says so on the card and links to its result.
    """
    def actions(finding: Finding) -> None:
        patched = [(f.text, dict(f.config_patch)) for f in finding.fixes if f.config_patch]
        if run["status"] not in ("finished", "stopped"):  # a run the doctor stopped is the one to fix
            return
        why = reproduce.why_not_reproducible(store, run)
        if why is not None:  # an upload or an API run: never launch traindoc's own model as "the fix"
            code_fixes(store, run, finding, why)
            return
        if not patched:
            return
        tried = _tried(store, int(run["id"]), finding.rule)
        busy = {g for g in set(tried.values()) if store.runs(group_id=g).status.isin(ACTIVE).any()}
        for i, (text, patch) in enumerate(patched):
            again, running = text in tried, tried.get(text) in busy
            # while its runs are queued or running, "Try again" would only launch a duplicate
            verb = "Trying now" if running else "Try again" if again else "Try this fix"
            st.button(f"{verb}: {text}", key=f"try-{run['id']}-{finding.rule}-{i}", disabled=running,
                      icon=":material/science:", width="stretch", help=f"Launch this run's config with "
                      f"{json.dumps(patch)} and compare: the verdict appears below when it finishes.",
                      on_click=_launch, args=(store, run, finding, [(text, patch)]))
            if again:
                st.page_link("pages/compare.py", label=f"{'Trying' if running else 'Tried'} in group "
                             f"#{tried[text]}: {'follow it' if running else 'see the result'}",
                             icon=":material/history:", query_params={"group": str(tried[text])})
        if len(patched) > 1:
            st.button(f"Try all {len(patched)} fixes", key=f"try-all-{run['id']}-{finding.rule}",
                      on_click=_launch, args=(store, run, finding, patched))
    return actions


def verdict_badge(verdict: Verdict) -> None:
    colour, icon = VERDICT_STYLE[verdict.verdict]
    st.markdown(f":{colour}-badge[{icon} {verdict.verdict}] **{md(verdict.fix)}**")
    st.markdown(md(verdict.reason))


def _curve(run: RunData, metric: str, label: str) -> dict[str, Any] | None:
    series = run.get(metric)
    return None if series is None else {"label": label, "steps": series.steps, "values": series.values}


def fixes_active(store: Store, run_id: int) -> bool:
    """Whether any fix launched from this run is still queued or running."""
    return any(store.runs(group_id=int(g["id"])).status.isin(ACTIVE).any()
               for g in store.groups_of_parent(run_id) if g["kind"] == "fix")


def fix_results(store: Store, run_id: int) -> bool:
    """Every fix group launched from this run: progress while running, then verdicts and before/after."""
    groups = [g for g in store.groups_of_parent(run_id) if g["kind"] == "fix"]
    if not groups:
        return False
    st.subheader("Fixes tried")
    active = False
    for group in groups:
        runs: pd.DataFrame = store.runs(group_id=int(group["id"]))
        with st.container(border=True):
            if runs.status.isin(ACTIVE).any():
                active = True
                group_progress(store, group, runs)
                continue
            st.markdown(f"**{md(group['name'])}** (group #{group['id']})")
            for verdict in _verdicts(store, int(group["id"])):
                verdict_badge(verdict)
            parent, _, fixes = group_runs(*fix_group(store, int(group["id"])))
            metrics = list(dict.fromkeys(m for m in ("train/loss_epoch", _metric(store, group)) if m))
            for metric, tab in zip(metrics, st.tabs(metrics), strict=True):
                before = _curve(parent, metric, f"#{run_id}")
                after = [c for text, rs in fixes.items() for r in rs[:1]
                         if (c := _curve(r, metric, f"{text} (#{r.meta['run_id']})"))]
                if before and after:
                    tab.plotly_chart(before_after_figure(before, after, metric), width="stretch",
                                     key=f"ba-{group['id']}-{metric}")
    return active


def _verdicts(store: Store, group_id: int) -> list[Verdict]:
    return fix_verdicts(str(store.path.resolve()), group_id, group_state(store, group_id))


def _metric(store: Store, group: dict[str, Any]) -> str | None:
    verdicts = _verdicts(store, int(group["id"]))
    return next((v.metric for v in verdicts if v.metric), None)
