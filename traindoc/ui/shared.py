"""What every page shares: the store, finding cards, markdown escaping.

The cached reads (keyed by run id and last step) and the view-models live in ``traindoc.views``;
they are re-exported here so the pages keep one import line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from diagnostics.findings import Finding
from runner.store import Store, resolve_db_path
from traindoc.views.cache import diagnose_run, key_metric, run_data, series
from traindoc.views.cache import store_for as _store
from traindoc.views.charts import DEFAULT_METRICS, constant_series, default_metrics
from traindoc.views.overview import SEVERITY_WORDS, duration, overview_table

__all__ = ["SEVERITY_WORDS", "default_metrics", "diagnose_run", "duration", "key_metric", "opening_metrics",
           "overview_table", "run_data", "series"]

Series = tuple[np.ndarray, np.ndarray]
# Material icons ship with Streamlit's own font, so they render in every browser (emoji need OS fonts)
STATUS_ICONS = {"queued": ":material/schedule:", "running": ":material/directions_run:",
                "finished": ":material/check_circle:", "failed": ":material/error:",
                "crashed": ":material/dangerous:", "cancelled": ":material/cancel:",
                "stalled": ":material/hourglass_empty:", "stopped": ":material/front_hand:"}
SEVERITY_STYLE = {"critical": (":material/dangerous:", "red"), "warning": (":material/warning:", "orange"),
                  "info": (":material/info:", "blue")}
RUN_PAGE = "pages/run.py"


def db_path() -> str:
    """``--db`` after ``--`` on the streamlit command line, else ``TRAINDOC_DB``, else ./traindoc.db."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return str(resolve_db_path(args.db).resolve())


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


def start_links() -> None:
    """Where an empty database sends a newcomer who has no terminal open: the pages that make runs."""
    left, right, _ = st.columns([1, 1, 2])
    left.page_link("pages/launch.py", label="Launch a preset or a sweep", icon=":material/rocket_launch:")
    right.page_link("pages/upload.py", label="Upload a training log", icon=":material/upload:")


def md(text: Any) -> str:
    """User text (run and metric names, error text) escaped so markdown shows it literally.

    Ends are stripped: ``**name **`` (a trailing space) is not bold in markdown but literal stars.
    """
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>$~:])", r"\\\1", str(text).strip())


def config_table(config: Mapping[str, Any], prefix: str = "") -> pd.DataFrame:
    """A run's config as ``key, value`` rows with dotted keys (nested dicts flattened)."""
    from traindoc.core.configs import flatten

    rows = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in flatten(config, prefix).items()]
    return pd.DataFrame(sorted(rows), columns=["key", "value"])


def config_markdown(config: Mapping[str, Any]) -> str:
    """A run's config (``config_table``) as a Markdown table: the run page shows it without a data grid,
    so opening a run loads neither pyarrow on the server (~35 MiB) nor the grid's 1.3 MB of script."""
    rows = config_table(config).itertuples(index=False)
    return "| key | value |\n|---|---|\n" + "\n".join(f"| {md(key)} | {md(value)} |" for key, value in rows)


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


def opening_metrics(db: str, run_id: int, last_step: int | None, names: list[str],
                    findings: list[Finding]) -> list[str]:
    """The metrics a run's chart opens on (``default_metrics``); the run's curves are read to skip
    constant series only when neither the usual losses nor a finding chose them."""
    chosen = any(n in names for n in DEFAULT_METRICS) or findings
    return default_metrics(names, findings, () if chosen else constant_series(run_data(db, run_id, last_step)))
