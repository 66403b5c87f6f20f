"""Cached reads keyed by (run id, last step): a live run's new rows miss the cache, a finished run
is read and diagnosed once. One cached ``Store`` per DB path (it keeps one connection per thread)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from diagnostics.findings import Finding
from runner.store import Store, StoreError
from traindoc.core.vocabulary import STEP_LOSS, Monitor, score_monitor

Series = tuple[np.ndarray, np.ndarray]


@st.cache_resource(show_spinner=False)
def store_for(path: str) -> Store:
    return Store(path)


@st.cache_data(max_entries=128, show_spinner=False)
def series(db: str, run_id: int, last_step: int | None, names: tuple[str, ...]) -> dict[str, Series]:
    """Curves of one run for charts; ``last_step`` is only the cache key (new rows → fresh read).

    Long curves come as per-bucket min/max from the store's rollups, so a million-point run
    reads a few thousand rows and its spikes still show.
    """
    store = store_for(db)
    return {name: store.chart_series(run_id, name) for name in names}


@st.cache_data(max_entries=128, show_spinner=False)
def epochs_and_times(db: str, run_id: int, last_step: int | None, names: tuple[str, ...]) -> dict[str, Any]:
    """Per metric, step → (epoch, wall time) arrays, so a chart can put epoch or wall time on x."""
    frame = store_for(db).metrics(run_id, list(names), max_points=5000)
    return {name: (g.step.to_numpy(), g.epoch.to_numpy(dtype=float), g.wall_time.to_numpy(dtype=float))
            for name, g in frame.groupby("name")}


@st.cache_resource(show_spinner=False)
def _diagnosed() -> set[tuple[str, int, int | None]]:
    """(db, run, last step) of every diagnosis this server process has finished."""
    return set()


def diagnosis_ready(db: str, run_id: int, last_step: int | None) -> bool:
    """Whether ``diagnose_run`` answers at once for this key: the run page then draws its chart once,
    with the findings marked, instead of a first chart while the run is read and judged."""
    return (db, run_id, last_step) in _diagnosed()


@st.cache_data(max_entries=512, show_spinner=False)
def diagnose_run(db: str, run_id: int, last_step: int | None) -> tuple[list[Finding], str | None]:
    """Findings of one run and, instead of a traceback, a message when diagnosis is not possible."""
    try:
        from diagnostics.engine import diagnose
        from traindoc.handoff import load_run, runner_bounds
    except ImportError:
        return [], "The diagnostics engine is not installed yet, so no findings are shown."
    try:
        found = list(diagnose(load_run(store_for(db), run_id), bounds=runner_bounds())), None
    except Exception as exc:  # noqa: BLE001 - a page shows the reason, never a traceback
        found = [], f"Could not diagnose this run ({type(exc).__name__}: {exc})."
    _diagnosed().add((db, run_id, last_step))
    return found


OVERVIEW_ROWS = 20_000  # overview cells kept per server process (a few MB); past it the memo starts over


@st.cache_resource(show_spinner=False)
def overview_cells() -> dict[tuple[str, int, int | None, int | None], tuple[str, str]]:
    """(db, run, judged step, last step) → the overview row's worst finding and key metric.

    One dictionary look-up per row: a cached function costs ~2 ms per call in Streamlit's argument
    hashing, and two per row made a 500-run overview pay two seconds on every rerun.
    """
    return {}


def forget_diagnoses() -> None:
    """Drop every cached judgement (a run's metrics were renamed: same run, same last step, new findings)."""
    diagnose_run.clear()
    key_metric.clear()
    _diagnosed().clear()
    overview_cells().clear()


@st.cache_resource(max_entries=512, show_spinner=False)
def run_data(db: str, run_id: int, last_step: int | None) -> Any:
    """One run as the diagnostics see it (a RunData), cached by (run, last step) without pickling."""
    from traindoc.handoff import load_run

    return load_run(store_for(db), run_id)


@st.cache_data(max_entries=512, show_spinner=False)
def key_metric(db: str, run_id: int, last_step: int | None) -> str:
    """The one number that says how a run went: the score (``score_monitor``: val AUC, else val
    accuracy, else val loss, the same pick as compare and verdicts), else the training loss.

    Best and last both (one when equal): a score to maximise leads with its best, a loss with its
    last value, so a loss that ended NaN says so first ("val/loss last NaN · best 0.31") instead of
    falling back to another metric.
    """
    store = store_for(db)
    try:
        names = store.metric_names(run_id)
        monitor = score_monitor(names) or (Monitor(STEP_LOSS) if STEP_LOSS in names else None)
        if monitor is None:
            return ""
        _, values = store.metric_series(run_id, monitor.name)
    except StoreError:  # a damaged page of the file: this run's cell says so, the overview stays
        return "unreadable (damaged database)"
    if not values.size:
        return ""
    best, last = f"{monitor.best(values):.4g}", f"{values[-1]:.4g}"
    parts = [f"best {best}", f"last {last}"] if monitor.higher_is_better else [f"last {last}", f"best {best}"]
    shown = parts[0] if best == last else " · ".join(parts)  # the one that matters for its direction first
    return f"{monitor.name} {shown}".replace("nan", "NaN")


@st.cache_data(max_entries=512, show_spinner=False)
def against(db: str, run_id: int, last_step: int | None, baseline_id: int, baseline_last: int | None) -> Any:
    """The run measured against its baseline (``diagnostics.verify.against_baseline``), cached by both
    runs' last steps; None when either run cannot be read."""
    from diagnostics.verify import against_baseline

    try:
        return against_baseline([run_data(db, baseline_id, baseline_last)], [run_data(db, run_id, last_step)])
    except (KeyError, StoreError):
        return None


@st.cache_data(max_entries=256, show_spinner=False)
def fix_verdicts(db: str, group_id: int, state: tuple[tuple[int, str, int | None], ...]) -> list[Any]:
    """The verdicts of a finished fix group; ``state`` ((id, status, last step) of its runs) is the cache key,
    so the fix runs are read and re-diagnosed once, not on every rerun of the run page."""
    from diagnostics.verify import group_verdicts
    from traindoc.handoff import fix_group

    return group_verdicts(*fix_group(store_for(db), group_id))


def group_state(store: Store, group_id: int) -> tuple[tuple[int, str, int | None], ...]:
    """What a fix group's verdicts depend on, as a hashable cache key."""
    runs = store.runs(group_id=group_id, reconcile=False)
    # pd.isna: a fix run that failed before logging has last_step None (not NaN) when it is alone in its group
    return tuple((int(r.id), str(r.status), None if pd.isna(r.last_step) else int(r.last_step))
                 for r in runs.itertuples())
