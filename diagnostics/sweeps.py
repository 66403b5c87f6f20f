"""Runs side by side: which config keys differ, and the final/best metrics of each run, as one table.

Pure (pandas in, pandas out): the compare page shows it, downloads it as CSV, and the
sensitivity and parallel-coordinates figures are drawn from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from diagnostics.rundata import RunData
from traindoc.core.configs import LOG_KEYS
from traindoc.core.vocabulary import SCORE_PREFERENCE, Monitor

METRICS = (*SCORE_PREFERENCE, "train/loss_epoch")  # the scores, then the fit; direction from the vocabulary
REPEAT_KEYS = ("train.seed",)  # differ between repeats of one setting: spread, not a swept axis
IGNORED_KEYS = ("train.device",)
HIGHLIGHT = "background-color: #fff3cd"  # the pale amber of a highlighter pen


def differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Config keys whose value is not the same in every run (seed and device aside), in schema order."""
    keys: list[str] = list(dict.fromkeys(k for c in configs for k in c))
    out = []
    for key in keys:
        if key in REPEAT_KEYS or key in IGNORED_KEYS:
            continue
        if len({repr(c.get(key)) for c in configs}) > 1:
            out.append(key)
    return out


def metric_columns(name: str) -> tuple[str, str]:
    return f"{name} final", f"{name} best"


def _final_best(run: RunData, name: str) -> tuple[float, float]:
    series = run.get(name)
    if series is None:
        return math.nan, math.nan
    _, y = series.finite()
    if not len(y):
        return math.nan, math.nan
    return float(y[-1]), Monitor(name).best(y)


def summary_table(runs: Sequence[RunData], all_keys: bool = False) -> pd.DataFrame:
    """One row per run: id, name, status, the differing config keys (all keys with ``all_keys``),
    the seed, then final and best of each metric any run logged."""
    configs = [dict(r.config) for r in runs]
    keys = differing_keys(configs)
    if all_keys:
        keys += [k for k in dict.fromkeys(k for c in configs for k in c) if k not in keys]
    rows = []
    for run, cfg in zip(runs, configs, strict=True):
        row: dict[str, Any] = {"run": run.meta.get("run_id"), "name": run.meta.get("name"),
                               "status": run.meta.get("status")}
        row.update({k: cfg.get(k) for k in keys})
        row["train.seed"] = cfg.get("train.seed")
        for name in METRICS:
            if any(r.get(name) is not None for r in runs):
                row.update(dict(zip(metric_columns(name), _final_best(run, name), strict=True)))
        rows.append(row)
    return pd.DataFrame(rows)


def score_columns(table: pd.DataFrame) -> list[str]:
    """The metric columns of a summary table, best-first ("val/auc best" before "val/auc final")."""
    cols = [c for c in table.columns if c.endswith((" final", " best"))]
    return sorted(cols, key=lambda c: (cols.index(c) // 2, not c.endswith(" best")))


def sensitivity_points(table: pd.DataFrame, key: str, metric: str) -> pd.DataFrame:
    """Per value of ``key``: mean, standard deviation (over seeds), min, max and count of ``metric``."""
    frame = table[[key, metric]].dropna(subset=[key])
    grouped = frame.groupby(key, sort=True)[metric]
    out = grouped.agg(["mean", "std", "min", "max", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def is_log_key(key: str, values: Sequence[Any]) -> bool:
    """Log axis for ε, lr and weight decay when every value is positive (a 0 cannot sit on a log axis)."""
    nums = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return key in LOG_KEYS and bool(nums) and all(v > 0 for v in nums)


def style_differences(table: pd.DataFrame) -> Any:
    """A pandas Styler that highlights the config columns whose values differ between runs."""
    config_cols = [c for c in table.columns if "." in c and not c.endswith((" final", " best"))]
    differing = [c for c in config_cols if table[c].astype(str).nunique() > 1 and c not in REPEAT_KEYS]
    styler = table.style.format(precision=4, na_rep="—")
    floats = [c for c in config_cols if pd.api.types.is_float_dtype(table[c])]
    if floats:  # 1e-08 must not print as 0.0000
        styler = styler.format("{:g}", subset=floats, na_rep="—")
    if differing:
        styler = styler.map(lambda _: HIGHLIGHT, subset=differing)
    return styler


def log10_safe(values: Sequence[float]) -> np.ndarray:
    """log10 with zeros mapped one decade below the smallest positive value (for parallel axes)."""
    arr = np.asarray(values, dtype=float)
    positive = arr[arr > 0]
    floor = positive.min() / 10 if positive.size else 1.0
    return np.log10(np.where(arr > 0, arr, floor))


def curves_for(runs: Sequence[RunData], metric: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """One ``{"label", "value", "steps", "values"}`` per run that logged ``metric``, for overlay_figure.

    ``value`` is the run's value of the first key (the colour); the label names every key.
    """
    out = []
    for run in runs:
        series = run.get(metric)
        if series is None:
            continue
        shown = [f"{k}={_fmt(run.config.get(k))}" for k in keys] or [str(run.meta.get("name"))]
        out.append({"label": " · ".join([*shown, f"seed {run.config.get('train.seed')}", f"#{run.meta.get('run_id')}"]),
                    "value": run.config.get(keys[0]) if keys else None,
                    "steps": series.steps, "values": series.values})
    return out


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
