"""What every page shares: the store, cached reads keyed by (run id, last step), finding cards.

The cache key includes the run's ``last_step``, so a live run's new rows miss the cache
(fresh curves and findings) while a finished run is read and diagnosed once. The
``Store`` keeps one sqlite connection per thread, so one cached ``Store`` per DB path is
safe under Streamlit's threads; no connection is ever shared.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from diagnostics.findings import Finding, worst
from runner.store import ACTIVE, Store, StoreError, resolve_db_path

Series = tuple[np.ndarray, np.ndarray]
# Material icons ship with Streamlit's own font, so they render in every browser (emoji need OS fonts)
STATUS_ICONS = {"queued": ":material/schedule:", "running": ":material/directions_run:",
                "finished": ":material/check_circle:", "failed": ":material/error:",
                "crashed": ":material/dangerous:", "cancelled": ":material/cancel:"}
SEVERITY_STYLE = {"critical": (":material/dangerous:", "red"), "warning": (":material/warning:", "orange"),
                  "info": (":material/info:", "blue")}
SEVERITY_WORDS = {"critical": "CRITICAL", "warning": "warning", "info": "info"}
DEFAULT_METRICS = ("train/loss", "val/loss")
RUN_PAGE = "pages/run.py"


def db_path() -> str:
    """``--db`` after ``--`` on the streamlit command line, else ``TRAINDOC_DB``, else ./traindoc.db."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return str(resolve_db_path(args.db).resolve())


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store(path)


def get_store() -> Store:
    """The store, or a clear error and a stopped page when the file cannot be opened."""
    path = db_path()
    try:
        return _store(path)
    except Exception as exc:  # sqlite errors, permissions, a file that is not a database
        st.error(f"Cannot open the database {path}: {exc}. Point the dashboard at a traindoc database "
                 "with `TRAINDOC_DB=path streamlit run app.py` or `streamlit run app.py -- --db path`.")
        st.stop()
        raise  # unreachable: st.stop raises; keeps type checkers honest


def md(text: Any) -> str:
    """User text (run and metric names, error text) escaped so markdown shows it literally."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>$~:])", r"\\\1", str(text))


@st.cache_data(max_entries=128, show_spinner=False)
def series(db: str, run_id: int, last_step: int | None, names: tuple[str, ...]) -> dict[str, Series]:
    """Curves of one run for charts; ``last_step`` is only the cache key (new rows → fresh read).

    Long curves come as per-bucket min/max from the store's rollups, so a million-point run
    reads a few thousand rows and its spikes still show.
    """
    store = _store(db)
    return {name: store.chart_series(run_id, name) for name in names}


@st.cache_data(max_entries=512, show_spinner=False)
def diagnose_run(db: str, run_id: int, last_step: int | None) -> tuple[list[Finding], str | None]:
    """Findings of one run and, instead of a traceback, a message when diagnosis is not possible."""
    try:
        from diagnostics.engine import diagnose
        from traindoc.handoff import load_run, runner_bounds
    except ImportError:
        return [], "The diagnostics engine is not installed yet, so no findings are shown."
    try:
        return list(diagnose(load_run(_store(db), run_id), bounds=runner_bounds())), None
    except Exception as exc:  # noqa: BLE001 - a page shows the reason, never a traceback
        return [], f"Could not diagnose this run ({type(exc).__name__}: {exc})."


@st.cache_resource(max_entries=512, show_spinner=False)
def run_data(db: str, run_id: int, last_step: int | None) -> Any:
    """One run as the diagnostics see it (a RunData), cached by (run, last step) without pickling."""
    from traindoc.handoff import load_run

    return load_run(_store(db), run_id)


@st.cache_data(max_entries=512, show_spinner=False)
def key_metric(db: str, run_id: int, last_step: int | None) -> str:
    """The one number that says how a run went: last val/loss, else best val/acc or AUC, else last train/loss.

    A loss that ended NaN says so ("val/loss last NaN") instead of falling back to another metric.
    """
    store = _store(db)
    wanted = (("val/loss", "last"), ("val/acc", "best"), ("val/auc", "best"), ("train/loss", "last"))
    for name, pick in wanted:
        try:
            _, values = store.metric_series(run_id, name)
        except StoreError:  # a damaged page of the file: this run's cell says so, the overview stays
            return "unreadable (damaged database)"
        if not values.size:
            continue
        finite = values[np.isfinite(values)]
        value = values[-1] if pick == "last" else (finite.max() if finite.size else float("nan"))
        return f"{name} {pick} {value:.4g}".replace("nan", "NaN")
    return ""


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


def overview_table(db: str, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run for the overview: status, progress, device, duration, key metric, worst finding."""
    rows = []
    for run in runs.to_dict("records"):
        last = None if pd.isna(run["last_step"]) else int(run["last_step"])
        found, _ = diagnose_run(db, int(run["id"]), last)
        top = worst(found)
        rows.append({
            "id": int(run["id"]), "name": run["name"],
            "status": run["status"],
            "progress": float(run["progress"] or 0) if run["status"] in ACTIVE else None,
            "worst finding": f"{SEVERITY_WORDS[top.severity]}: {top.title}" if top else "",
            "key metric": key_metric(db, int(run["id"]), last),
            "steps": last, "duration": duration(run),
            "device": "" if pd.isna(run["device"]) else run["device"], "source": run["source"],
        })
    return pd.DataFrame(rows)


def default_metrics(names: list[str], findings: list[Finding]) -> list[str]:
    """train/loss + val/loss, plus the metrics the findings point at, so their evidence is on the chart."""
    picked = [n for n in DEFAULT_METRICS if n in names]
    for finding in findings:
        picked += [m for m in (finding.evidence.metric, *finding.evidence.related) if m in names]
    picked = list(dict.fromkeys(picked))[:4]
    return picked or names[:1]


def config_table(config: Mapping[str, Any], prefix: str = "") -> pd.DataFrame:
    """A run's config as ``key, value`` rows with dotted keys (nested dicts flattened)."""
    from traindoc.configs import flatten

    rows = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in flatten(config, prefix).items()]
    return pd.DataFrame(sorted(rows), columns=["key", "value"])


def finding_card(finding: Finding, actions: Callable[[Finding], None] | None = None) -> None:
    """Severity, title, the numbers, then the fixes ranked with why and the config patch to apply.

    ``actions`` draws extra widgets inside the card (the run page's "Try this fix" buttons).
    """
    icon, colour = SEVERITY_STYLE.get(finding.severity, ("•", "gray"))
    with st.container(border=True):
        st.markdown(f":{colour}[{icon} **{md(finding.title)}**] :{colour}-badge[{finding.severity}] "
                    f"`{finding.rule}`")
        st.markdown(md(finding.summary))
        for rank, fix in enumerate(finding.fixes, start=1):
            st.markdown(f"**{rank}. {md(fix.text)}**" + (f" — {md(fix.reason)}" if fix.reason else ""))
            if fix.config_patch:
                st.code(json.dumps(fix.config_patch, indent=None), language="json")
        if actions is not None:
            actions(finding)


CATALOG_SECTIONS = (("what", "What it detects"), ("why", "Why it matters"), ("fix", "Suggested fix"),
                    ("references", "References"))


def catalog() -> tuple[list[dict[str, Any]], str | None]:
    """The rule catalog (``diagnostics.catalog.entries``) shaped for the page, or why it is missing.

    Each entry: id, title, severity, kind, needs (metric patterns), sections
    ``{heading: text}`` and ``parameters`` (a name/default/meaning frame).
    """
    try:
        from diagnostics.catalog import entries
    except ImportError:
        return [], "The rule catalog is not available yet: the diagnostics engine has not been installed."
    try:
        raw = entries()
    except Exception as exc:  # noqa: BLE001 - a page shows the reason, never a traceback
        return [], f"The rule catalog could not be built ({type(exc).__name__}: {exc})."
    out = []
    for entry in raw:
        defaults = {p["name"]: p["default"] for p in entry.get("parameters_defaults", [])}
        meaning = _parameter_lines(entry.get("parameters", ""))
        params = pd.DataFrame(
            [(name, json.dumps(defaults.get(name)), text) for name, text in meaning.items()]
            or [(name, json.dumps(value), "") for name, value in defaults.items()],
            columns=["parameter", "default", "meaning"],
        )
        out.append({
            "id": entry["id"], "title": entry.get("title", entry["id"]),
            "severity": entry.get("severity", "info"), "kind": entry.get("kind", "run"),
            "needs": [" or ".join(group) for group in entry.get("requires", [])],
            "sections": {head: entry[key] for key, head in CATALOG_SECTIONS if entry.get(key)},
            "parameters": params,
        })
    return out, None


def _parameter_lines(text: str) -> dict[str, str]:
    """``name: meaning`` lines (continuations folded in) from a rule's Parameters section."""
    out: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        head, sep, rest = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", head.strip()) and not line[:1].isspace():
            last = head.strip()
            out[last] = rest.strip()
        elif last and line.strip():
            out[last] += " " + line.strip()
    return out
