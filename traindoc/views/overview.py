"""The overview's table: one row per run with what a daily user scans for, and the filter choices."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from diagnostics.engine import worst
from runner.store import ACTIVE, Store
from traindoc.views.cache import OVERVIEW_ROWS, against, diagnose_run, key_metric, overview_cells, store_for

SEVERITY_WORDS = {"critical": "CRITICAL", "warning": "warning", "info": "info"}
NAME_CHARS = 48  # longer names are cut with "…" in the table (the full name is on the run page)
# A live run's worst finding on the overview is judged again at most this often: judging reads up
# to 200k points per metric (~1 s), and eight live runs re-judged on every 2-3 s refresh kept the
# table's status column 18-20 s behind. The run page judges a live run on every new batch.
LIVE_JUDGED_EVERY = 15.0
# The overview's table never waits for more than this much judging (seconds per draw): a fresh server
# judging 500 runs took 45-70 s before the table showed. The rest follow on the next draws (2 s apart).
OVERVIEW_BUDGET_S = 1.0
ALWAYS_JUDGED = 25  # runs judged in every draw whatever the budget: about the table's first screen
PENDING = "judging…"  # a run's "worst finding" until this server process has judged it


def short(text: Any, limit: int = NAME_CHARS) -> str:
    """One line, at most ``limit`` characters: a long name must not push the other columns away."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def duration(run: Mapping[str, Any], now: float | None = None) -> str:
    """Wall time from start to end (or to now while it runs), as ``1h 02m`` / ``3m 05s`` / ``12.3s``."""
    start, end = run.get("started_at"), run.get("ended_at")
    if start is None or pd.isna(start):
        return ""
    end = (now or time.time()) if end is None or pd.isna(end) else end
    secs = max(float(end) - float(start), 0.0)
    if secs < 60:
        return f"{secs:.1f}s"
    if secs < 3600:
        return f"{int(secs // 60)}m {int(secs % 60):02d}s"
    return f"{int(secs // 3600)}h {int(secs % 3600 // 60):02d}m"


def overview_table(db: str, runs: pd.DataFrame, budget_s: float | None = None) -> pd.DataFrame:
    """One row per run: status, progress (whole percent, active runs only), finding, key metric, group, tags...

    With ``budget_s``, runs not judged yet in this process are judged until that much time has gone
    (``ALWAYS_JUDGED`` of them whatever it costs); the others say ``PENDING`` in "worst finding" and
    are judged on the next draws. A fresh server's 500 runs then show at once, not after
    500 diagnoses.
    """
    rows = []
    store = store_for(db)
    marked = store.baselines()
    lasts = dict(zip(runs["id"].astype(int), runs["last_step"], strict=True))
    memo = overview_cells()
    deadline = None if budget_s is None else time.monotonic() + budget_s
    judged_now = 0  # runs judged in this draw: at least ALWAYS_JUDGED, so every draw makes progress
    for run in runs.to_dict("records"):
        last = None if pd.isna(run["last_step"]) else int(run["last_step"])
        judged = _judged_key(db, run, last)
        judge = deadline is None or judged_now < ALWAYS_JUDGED or time.monotonic() < deadline
        judged_now += judge and (db, int(run["id"]), judged, last) not in memo
        finding, metric = _finding_and_metric(memo, db, int(run["id"]), judged, last, judge)
        rows.append({
            "id": int(run["id"]), "name": short(run["name"]),
            "status": run["status"],
            "progress": round(100 * float(run["progress"] or 0)) if run["status"] in ACTIVE else None,
            "worst finding": finding,
            "key metric": metric,
            "vs baseline": _vs_baseline(db, store, run, last, marked, lasts),
            "group": short(run.get("group", ""), 30), "tags": list(run.get("tags", [])),
            "created": pd.Timestamp(run["created_at"], unit="s").floor("s"),
            "steps": last, "duration": duration(run),
            "device": "" if pd.isna(run["device"]) else run["device"], "source": run["source"],
        })
    return pd.DataFrame(rows)


def _finding_and_metric(memo: dict[tuple[str, int, int | None, int | None], tuple[str, str]], db: str,
                        run_id: int, judged: int | None, last: int | None, judge: bool = True) -> tuple[str, str]:
    """A row's "worst finding" and "key metric" cells, from ``memo`` when this run has not moved; a run
    not judged yet and not to be judged now (``judge`` False) says ``PENDING``."""
    key = (db, run_id, judged, last)
    if key not in memo and not judge:
        return PENDING, key_metric(db, run_id, last)
    if key not in memo:
        if len(memo) >= OVERVIEW_ROWS:  # a long-lived server over many databases: start over, never grow
            memo.clear()
        found, _ = diagnose_run(db, run_id, judged)
        top = worst(found)
        memo[key] = (f"{SEVERITY_WORDS[top.severity]}: {top.title}" if top else "",
                     key_metric(db, run_id, last))
    return memo[key]


def _vs_baseline(db: str, store: Store, run: Mapping[str, Any], last: int | None,
                 marked: tuple[int | None, dict[int, int]], lasts: Mapping[int, Any]) -> str:
    """"baseline" for a baseline itself; for a finished run with one, "better (+0.031)", "worse (…)",
    "within noise" as the fixes' verdicts decide; empty otherwise (a live run is not judged yet)."""
    database, groups = marked
    if int(run["id"]) == database:
        return "baseline (database)"
    if int(run["id"]) in groups.values():
        return "baseline (group)"
    group = None if pd.isna(run.get("group_id")) else int(run["group_id"])
    base = store.baseline_of(int(run["id"]), group, marked)
    if base is None or run["status"] != "finished":
        return ""
    base_last = lasts.get(base)
    if base_last is None:
        base_last = store.run(base)["last_step"]
    verdict = against(db, int(run["id"]), last, base, None if pd.isna(base_last) else int(base_last))
    if verdict is None or verdict.delta is None:
        return ""
    return verdict.verdict if verdict.verdict == "within noise" else f"{verdict.verdict} ({verdict.delta:+.3g})"


def _judged_key(db: str, run: Mapping[str, Any], last: int | None) -> int | None:
    """The cache key of a run's diagnosis on the overview: its last step once it ended; while it
    is live, the last step seen at the start of the current LIVE_JUDGED_EVERY window."""
    if run["status"] not in ACTIVE or last is None:
        return last
    window = int(time.time() // LIVE_JUDGED_EVERY)
    key = (db, int(run["id"]))
    seen = _LIVE_KEYS.get(key)
    if seen is None or seen[0] != window:
        seen = _LIVE_KEYS[key] = (window, last)
    return seen[1]


_LIVE_KEYS: dict[tuple[str, int], tuple[int, int]] = {}  # (db, run) → (window, last step then)


def date_bounds(picked: Any) -> tuple[float | None, float | None]:
    """A ``st.date_input`` range (one or two dates, or none) as [since, until) epoch seconds."""
    days = [d for d in (picked if isinstance(picked, list | tuple) else [picked]) if isinstance(d, date)]
    if not days:
        return None, None
    first, last = min(days), max(days)
    since = datetime.combine(first, datetime.min.time()).timestamp()
    until = datetime.combine(last + timedelta(days=1), datetime.min.time()).timestamp()
    return since, until


def filter_choices(store: Store) -> dict[str, list[Any]]:
    """What the overview's filters offer: the statuses, groups, sources and tags that exist."""
    runs = store.runs(reconcile=False)
    groups = store.groups()
    used = set(runs.group_id.dropna().astype(int))
    return {
        "status": sorted(runs.status.unique()), "source": sorted(runs.source.unique()),
        "group": [(int(g.id), f"#{g.id} {short(g.name, 40)}") for g in groups.itertuples() if int(g.id) in used],
        "tag": sorted({t for ts in store.tags().values() for t in ts}),
    }


def run_length(store: Store, run_id: int) -> tuple[str, str]:
    """The run page's header figure: ("Epochs", "60") for a per-epoch log, else ("Steps", "240")."""
    text = length_caption(store, run_id)
    if text == "no metrics":
        return "Steps", "—"
    count, unit = text.split(" · ")[0].split(" ")
    return unit.capitalize(), count


def length_caption(store: Store, run_id: int) -> str:
    """How long a run is, counted right: "60 epochs" for a per-epoch log (not "59 steps"), else "N steps"."""
    extent = store.run_extent(run_id)
    if extent is None:
        return "no metrics"
    first, last, points, epochs = extent
    meta_axis = store.run(run_id)["meta"].get("axis")
    if meta_axis == "epoch":
        return f"{points:,} epochs"
    steps = last - first + 1
    return f"{steps:,} steps" + (f" · {epochs:,} epochs" if epochs else "")


def store_gap_lines(meta: dict[str, Any]) -> list[str]:
    """One sentence per time the store could not take the run's rows (``meta["store_gaps"]``): the run
    page says when, why and where the rows went, so a gap in a curve is never a mystery."""
    lines = []
    for gap in meta.get("store_gaps") or []:
        reason = str(gap.get("reason") or "the store could not be written").split(" — ", 1)[0]
        if gap.get("spill_file"):
            steps = f"steps {gap.get('first_step')}–{gap.get('last_step')}, " if gap.get("rows") else ""
            lines.append(f"{steps}{gap.get('rows', 0):,} rows were recovered from {gap['spill_file']}"
                         f" after the store refused them: {reason}")
        else:
            waited = max(float(gap.get("until", 0)) - float(gap.get("since", 0)), 0.0)
            lines.append(f"the store did not take this run's rows for {waited:.1f} s ({reason});"
                         " they waited and were written afterwards")
    return lines
