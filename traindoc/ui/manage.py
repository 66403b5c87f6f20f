"""The overview's actions on the ticked runs: open, compare, tag, rename and note, archive, delete (confirmed)."""

from __future__ import annotations

import streamlit as st

from runner.store import ACTIVE, Store
from traindoc.ui.shared import RUN_PAGE, md


def _act(action, *args, done: str | None = None) -> None:  # noqa: ANN001 - a store method and its arguments
    """Run a store write from a button; its error becomes a message instead of a traceback, and
    ``done`` (what happened, in words) is confirmed on the next rerun."""
    try:
        action(*args)
        st.session_state.pop("manage:error", None)
        if done:
            st.session_state["manage:done"] = done
    except (KeyError, ValueError) as exc:
        st.session_state["manage:error"] = str(exc.args[0] if exc.args else exc)


def _delete(store: Store, ids: list[int]) -> None:
    _act(store.delete_runs, ids, done=f"Deleted {', '.join(f'#{i}' for i in sorted(ids))}")
    st.session_state.pop("manage:confirm", None)
    st.session_state["manage:deleted"] = st.session_state.get("manage:deleted", 0) + 1


def manage_selected(store: Store, ids: list[int]) -> None:
    """Buttons for the ticked runs; a delete asks once more, naming what goes."""
    if error := st.session_state.get("manage:error"):
        st.error(md(error))
    if done := st.session_state.pop("manage:done", None):
        st.toast(md(done), icon=":material/check:")
        st.session_state["manage:last"] = done
    if last := st.session_state.get("manage:last"):  # stays after the toast fades: what the last action did
        st.caption(f":material/check: {md(last)}")
    if not ids:
        st.caption("Tick one run to open or rename it, two or more to compare them.")
        return
    runs = {i: store.run(i) for i in ids}
    cols = st.columns(4, vertical_alignment="bottom")
    if len(ids) == 1:
        cols[0].page_link(RUN_PAGE, label=f"Open run #{ids[0]}", icon=":material/show_chart:",
                          query_params={"run": str(ids[0])})
    else:
        cols[0].page_link("pages/compare.py", label=f"Compare {len(ids)} runs", icon=":material/compare_arrows:",
                          query_params={"runs": ",".join(map(str, sorted(ids)))})
    archived = all(r["archived"] for r in runs.values())
    cols[1].button("Unarchive" if archived else "Archive", icon=":material/archive:", key="manage:archive",
                   on_click=_act, args=(store.set_archived, ids, not archived),
                   kwargs={"done": f"{'Unarchived' if archived else 'Archived'} "
                           f"{', '.join(f'#{i}' for i in sorted(ids))}"})
    live = [i for i, r in runs.items() if r["status"] in ACTIVE]
    cols[2].button(f"Delete {len(ids)} run{'s' if len(ids) > 1 else ''}", icon=":material/delete:",
                   key="manage:delete", disabled=bool(live),
                   help=f"run #{live[0]} is still {runs[live[0]]['status']}: cancel it first" if live else None,
                   on_click=lambda: st.session_state.update({"manage:confirm": sorted(ids)}))
    if st.session_state.get("manage:confirm") == sorted(ids):
        with st.container(border=True):
            names = ", ".join(f"#{i} {runs[i]['name']}" for i in sorted(ids))
            st.warning(f"Delete {md(names)} with all their metrics, tags and notes? This cannot be undone.")
            yes, no = st.columns(2)
            yes.button("Yes, delete", type="primary", key="manage:yes", on_click=_delete, args=(store, ids))
            no.button("Keep them", key="manage:no", on_click=lambda: st.session_state.pop("manage:confirm"))
    with st.form("manage:tags", border=False):
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        tag_text = left.text_input("Tags to add (comma separated; a leading - removes)", key="manage:tag-text")
        if right.form_submit_button("Apply tags", icon=":material/sell:"):
            words = [w.strip() for w in tag_text.split(",") if w.strip()]
            added, removed = [w for w in words if not w.startswith("-")], [w[1:] for w in words if w.startswith("-")]
            which = ", ".join(f"#{i}" for i in sorted(ids))
            said = "; ".join(part for part in (f"tagged {', '.join(added)}" if added else "",
                                               f"removed {', '.join(removed)}" if removed else "") if part)
            _act(lambda: store.tag(ids, add=added, remove=removed),
                 done=f"Run{'s' if len(ids) > 1 else ''} {which}: {said or 'no tags given'}")
            st.rerun()
    if len(ids) == 1:
        _baseline_buttons(store, ids[0], runs[ids[0]])
        run = runs[ids[0]]
        with st.form(f"manage:edit-{ids[0]}", border=False):
            name = st.text_input("Name", value=run["name"], max_chars=200)
            note = st.text_area("Note", value=run["note"], height=68)
            if st.form_submit_button("Save name and note", icon=":material/edit:"):
                _act(lambda: (store.rename_run(ids[0], name), store.set_note(ids[0], note)),
                     done=f"Run #{ids[0]}: name and note saved")
                st.rerun()


def _baseline_buttons(store: Store, run_id: int, run: dict) -> None:
    """Make the ticked run the baseline every other run is measured against (its group's or the database's)."""
    scope = run["meta"].get("baseline")
    cols = st.columns(3, vertical_alignment="bottom")
    if scope:
        cols[0].button(f"Stop being the {scope}'s baseline", icon=":material/flag:", key="manage:unbaseline",
                       on_click=_act, args=(store.clear_baseline, run_id), kwargs={"done": f"Run #{run_id}: no "
                       "longer a baseline"})
        return
    if run["group_id"] is not None:
        cols[0].button("Baseline of its group", icon=":material/flag:", key="manage:baseline-group",
                       help="The other runs of this group are then measured against it (overview, run page).",
                       on_click=_act, args=(store.set_baseline, run_id, "group"),
                       kwargs={"done": f"Run #{run_id} is its group's baseline"})
    cols[1].button("Baseline of every run", icon=":material/flag:", key="manage:baseline-db",
                   help="Every run without a group baseline is then measured against it.",
                   on_click=_act, args=(store.set_baseline, run_id, "database"),
                   kwargs={"done": f"Run #{run_id} is the database's baseline"})
