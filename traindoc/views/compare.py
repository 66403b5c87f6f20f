"""What a comparison of any runs can show: the metrics they share, the config keys that really vary,
short legend labels, and whether the runs are a real sweep (then sensitivity views make sense)."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from diagnostics.rundata import RunData
from diagnostics.sweeps import differing_keys
from traindoc.core.vocabulary import score_monitor
from traindoc.views.overview import short

HIDDEN_PREFIXES = ("grad_norm/", "dead_frac/")
LABEL_KEYS = 3


@dataclass(frozen=True)
class Comparable:
    """``metrics``: names worth a curve (shared by all runs first); ``keys``: config keys that differ
    among the runs that have a config; ``default``: the curve to draw first."""

    metrics: list[str]
    keys: list[str]
    default: str | None


def comparable(runs: Sequence[RunData]) -> Comparable:
    counts = Counter(n for r in runs for n in set(r.names) if not n.startswith(HIDDEN_PREFIXES))
    shared = sorted(n for n, c in counts.items() if c == len(runs))
    some = sorted(n for n, c in counts.items() if 1 < c < len(runs))
    metrics = shared + some + sorted(n for n, c in counts.items() if c == 1)
    keys = varying_keys([dict(r.config) for r in runs])
    score = score_monitor([set(r.names) for r in runs])
    pool = shared or some or metrics
    default = score.name if score else next((n for n in pool if n.endswith("loss")), pool[0] if pool else None)
    return Comparable(metrics, keys, default)


def varying_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Keys that at least two runs set, to different values (seed and device aside, as ``differing_keys``).

    A run without config (an uploaded log) differs in nothing, and a key only one run has (an
    upload's three hparams against a runner's full config) is not a variation either.
    """
    configured = [c for c in configs if c]
    candidates = differing_keys(configured) if len(configured) > 1 else []
    out = []
    for key in candidates:
        values = [repr(c[key]) for c in configured if key in c]
        if len(values) > 1 and len(set(values)) > 1:
            out.append(key)
    return out


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key → its shortest dotted tail no other key shares: ``data.name`` and ``loss.name``
    stay apart in a legend (``name=moons · name=mse`` says nothing), ``optim.lr`` → ``lr``."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if not any(o != key and (o == tail or o.endswith("." + tail)) for o in keys):
                break
        out[key] = tail
    return out


def labels(runs: Sequence[RunData], keys: Sequence[str]) -> dict[int, tuple[str, str]]:
    """Run id → (legend label: ``#id name`` + the 1-3 keys where this run differs most; hover:
    every differing key with its full name)."""
    tails = short_keys(keys)
    common = {k: Counter(repr(r.config.get(k)) for r in runs if r.config).most_common(1) for k in keys}
    out = {}
    for run in runs:
        rid, name = int(run.meta.get("run_id")), short(run.meta.get("name", ""), 28)
        own = [k for k in keys if k in run.config]
        full = str(run.meta.get("name", ""))
        said = [k for k in own if f"{k}={_fmt(run.config[k])}" in full]  # a sweep run's name says it already
        own_new = [k for k in own if k not in said]
        odd = [k for k in own_new if common[k] and repr(run.config.get(k)) != common[k][0][0]]
        shown = (odd + [k for k in own_new if k not in odd])[:LABEL_KEYS]
        name = short(full, 60) if said else name  # a sweep name ends with its value: never cut that off at 28
        label = " · ".join([f"#{rid} {name}", *(f"{tails[k]}={_fmt(run.config[k])}" for k in shown)])
        lines = [f"#{rid} {run.meta.get('name', '')}", *(f"{k}={_fmt(run.config[k])}" for k in own)]
        hover = "<br>".join(html.escape(line) for line in lines + ([] if run.config else ["(no config)"]))
        out[rid] = (label, hover)
    return out


# Points the compare overlay draws in all, shared by its curves: about two per pixel column of a wide
# chart. A 20-run group at 1,000 points a curve made the browser lay out 20,000 SVG points, seconds on a
# busy machine; each curve keeps its per-bucket min and max (``downsample``), so spikes stay drawn.
OVERLAY_POINTS = 4000
OVERLAY_MIN_POINTS = 200  # a curve never gets fewer, however many runs are compared


def overlay_points(n_curves: int) -> int:
    """Points for each curve of an overlay of ``n_curves``: the screen's budget, not the runs' length."""
    return max(OVERLAY_MIN_POINTS, OVERLAY_POINTS // max(n_curves, 1))


def curves(runs: Sequence[RunData], metric: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Overlay items (``label``, ``hover``, ``value`` of the first key for the colour, ``steps``, ``values``)."""
    names = labels(runs, keys)
    out = []
    for run in runs:
        series = run.get(metric)
        if series is None:
            continue
        label, hover = names[int(run.meta.get("run_id"))]
        out.append({"label": label, "hover": hover, "value": run.config.get(keys[0]) if keys else None,
                    "steps": series.steps, "values": series.values})
    return out


def trimmed_table(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The summary table with only the config columns that really vary (not every key an unconfigured run lacks)."""
    config_cols = [c for c in table.columns if "." in c and not c.endswith((" final", " best"))]
    return table.drop(columns=[c for c in config_cols if c not in keys and c != "train.seed"])


def is_sweep(group: dict[str, Any] | None, keys: Sequence[str]) -> bool:
    """Sensitivity and parallel coordinates only mean something for a sweep group over real keys."""
    return bool(group) and group.get("kind") == "sweep" and bool(keys)
