"""The compare page's part for searches: which round each run belongs to, the search's spec, and
"Zoom in": the next round's ranges around the best runs (``runner.zoom``), shown and editable,
queued as a linked group."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from runner import plan, search, zoom
from runner.config import ConfigError
from runner.store import ACTIVE, Store
from traindoc.ui.shared import md


def round_of_runs(store: Store, group: dict[str, Any] | None) -> tuple[list[int], dict[int, int]]:
    """For a search group: the groups of all its rounds, and run id → round; empty for any other group."""
    if not group or not (group.get("spec") or {}).get("search"):
        return [], {}
    ids = zoom.rounds(store, int(group["id"]))
    out = {}
    for gid in ids:
        rnd = int((store.group(gid)["spec"].get("search") or {}).get("round") or 1)
        out.update({int(r): rnd for r in store.runs(group_id=gid, reconcile=False).id})
    return ids, out


def with_rounds(table: pd.DataFrame, rounds: dict[int, int]) -> pd.DataFrame:
    """The summary table with a ``round`` column after the run id, when the runs span several rounds."""
    if len(set(rounds.values())) < 2 or "run" not in table:
        return table
    out = table.copy()
    out.insert(1, "round", [rounds.get(int(r)) for r in out["run"]])
    return out


def search_caption(store: Store, group_ids: list[int]) -> None:
    """One line per round: its space, sampler, trials and pruning (what the CLI would write)."""
    for gid in group_ids:
        spec = store.group(gid)["spec"]
        rnd = int(spec["search"].get("round") or 1)
        st.caption(f"Round {rnd} · group #{gid}: {md(search.spec_line(spec) or '')}")


def zoom_panel(store: Store, group: dict[str, Any]) -> None:
    """Propose the next round around the best runs of a finished search group; editable, then queued."""
    gid = int(group["id"])
    runs = store.runs(group_id=gid, reconcile=False)
    st.subheader("Zoom in")
    st.caption(f"The next round, around the best runs of group #{gid} (round "
               f"{int(group['spec']['search'].get('round') or 1)}), in a group linked to it.")
    if runs.status.isin(ACTIVE).any():
        st.caption("When this round has finished, zoom in proposes narrower ranges around its best runs.")
        return
    if runs.empty:
        st.caption("This round has no runs left (deleted): nothing to zoom in on.")
        return
    cols = st.columns(3)
    top = int(cols[0].number_input("Best runs to zoom around", 1, max(1, len(runs)), min(search.ZOOM_TOP, len(runs)),
                                   key=f"zoom:{gid}:top"))
    widen = float(cols[1].number_input("Widen their span by (on each key's scale)", 1.0, 10.0, search.ZOOM_WIDEN,
                                       key=f"zoom:{gid}:widen"))
    old = search.Search.from_spec(group["spec"]["search"])
    trials = int(cols[2].number_input("Trials", 1, search.MAX_TRIALS, old.trials, key=f"zoom:{gid}:trials"))
    try:
        _, proposed = zoom.proposal(store, gid, top=top, widen=widen)
    except ConfigError as exc:
        st.info(md(exc))
        return
    edited = {}
    for key, dist in proposed.items():
        left, right = st.columns([2, 3], vertical_alignment="bottom")
        left.markdown(f"`{key}` was `{old.space[key].text}`")
        # keyed by the proposal: new top or widen shows the new ranges, an edit of the same stays
        edited[key] = right.text_input(f"{key} next range", dist.text, key=f"zoom:{gid}:{key}:{dist.text}")
    try:
        next_plan, _ = zoom.plan(store, gid, top=top, widen=widen, trials=trials, edited=edited)
    except ConfigError as exc:
        st.error(md(exc))
        return
    done = st.session_state.get(f"zoom:{gid}:queued")
    if done:
        st.success(f"Round queued as group #{done}")
        st.page_link("pages/compare.py", label=f"Compare group #{done}", icon=":material/compare_arrows:",
                     query_params={"group": str(done)})
        return
    if st.button(f"Queue round {old.round + 1} ({trials} trials)", type="primary", icon=":material/zoom_in:",
                 key=f"zoom:{gid}:queue"):
        new_id, _ = plan.submit(store, next_plan) if isinstance(next_plan, plan.Plan) else _script_submit(store,
                                                                                                          next_plan)
        st.session_state[f"zoom:{gid}:queued"] = new_id
        st.rerun()


def _script_submit(store: Store, next_plan: Any) -> tuple[int, list[int]]:
    from runner import scripts

    return scripts.submit(store, next_plan)
