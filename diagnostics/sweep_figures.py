"""Figures of several runs: overlaid curves coloured by the swept value, sensitivity, parallel
coordinates, and a fix's before/after. Pure plotly, like diagnostics.figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from diagnostics.figures import downsample, ema
from diagnostics.sweeps import is_log_key, log10_safe, sensitivity_points
from traindoc.core.vocabulary import higher_is_better

COLOURSCALE = "Viridis"
LAYOUT = {"height": 420, "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}


def colour_positions(values: Sequence[Any], log: bool) -> list[float]:
    """Where each value sits on the colour scale, 0…1 (log-spaced for log keys; categories in order)."""
    if not values:
        return []
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        arr = log10_safe(values) if log else np.asarray(values, dtype=float)
        lo, hi = float(np.min(arr)), float(np.max(arr))
        return [0.5 if hi == lo else float((a - lo) / (hi - lo)) for a in arr]
    order = sorted({str(v) for v in values})
    return [0.5 if len(order) == 1 else order.index(str(v)) / (len(order) - 1) for v in values]


WIDE_RANGE_DECADES = 3  # curves spanning this many powers of ten open on a log axis (a diverged run at 3e31)


def wide_range(curves: Sequence[dict[str, Any]]) -> bool:
    """Whether the curves' positive values span ``WIDE_RANGE_DECADES`` or more (and none is <= 0, which a
    log axis cannot draw): then a linear axis flattens every curve but the largest."""
    finite = [v[np.isfinite(v)] for v in (np.asarray(c["values"], dtype=float) for c in curves)]
    values = np.concatenate(finite) if finite else np.array([])
    if not len(values) or values.min() <= 0:
        return False
    return bool(np.log10(values.max() / values.min()) >= WIDE_RANGE_DECADES)


def overlay_figure(curves: Sequence[dict[str, Any]], metric: str, colour_key: str | None,
                   smoothing: float = 0.0, max_points: int = 1000, log_y: bool = False) -> go.Figure:
    """One metric of many runs; each curve is ``{"label", "value", "steps", "values"}`` (and an optional
    ``hover``, e.g. the run's full config), coloured by value. The legend sits under the plot, so
    many or long labels never squeeze it."""
    values = [c.get("value") for c in curves]
    log = colour_key is not None and is_log_key(colour_key, values)
    positions = colour_positions(values, log) if colour_key else [i / max(len(curves) - 1, 1)
                                                                  for i in range(len(curves))]
    colours = sample_colorscale(COLOURSCALE, [0.9 * p for p in positions])  # the top of Viridis is too pale
    fig = go.Figure()
    for curve, colour in zip(curves, colours, strict=True):
        steps, ys = np.asarray(curve["steps"]), np.asarray(curve["values"], dtype=float)
        if smoothing > 0:
            ys = ema(ys, smoothing, steps)
        x, y = downsample(steps, ys, max_points)
        hover = str(curve.get("hover", curve["label"])).replace("%", "%%")
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines" if len(x) >= 100 else "lines+markers",
                                 name=str(curve["label"]), line={"color": colour, "width": 2},
                                 legendgroup=str(curve.get("value")),
                                 hovertemplate=f"{hover}<br>step %{{x}}: %{{y:.4g}}<extra></extra>"))
    title = f"{metric}" + (f" — colour: {colour_key}" + (" (log)" if log else "") if colour_key else "")
    fig.update_layout(title=title, xaxis_title="step", yaxis_title=metric, hovermode="closest", **LAYOUT)
    if log_y:
        fig.update_yaxes(type="log")
    fig.update_layout(height=LAYOUT["height"] + 22 * len(curves),
                      legend={"orientation": "h", "yanchor": "top", "y": -0.15, "xanchor": "left", "x": 0})
    return fig


def sensitivity_figure(table: pd.DataFrame, key: str, metric: str) -> go.Figure:
    """``metric`` against ``key``: every run as a dot, the mean per value as a line, ±1 std over seeds.
    A categorical key (an optimizer, an activation) has no order between its values: each choice is
    its own point with its error bar, no line joins them, and the choices are ordered by score."""
    points = sensitivity_points(table, key, metric)
    if not pd.api.types.is_numeric_dtype(points[key]):
        return _choices_figure(table, points, key, metric)
    log = is_log_key(key, points[key].tolist())
    fig = go.Figure()
    runs = table[[key, metric]].dropna()
    fig.add_trace(go.Scatter(x=runs[key], y=runs[metric], mode="markers", name="each run",
                             marker={"color": "#7f7f7f", "size": 7, "opacity": 0.6}))
    fig.add_trace(go.Scatter(
        x=points[key], y=points["mean"], mode="lines+markers", name="mean ± std",
        line={"color": "#1f77b4", "width": 2.5}, marker={"size": 10},
        error_y={"type": "data", "array": points["std"], "visible": True, "thickness": 1.5},
        hovertemplate=f"{key}=%{{x}}<br>{metric} mean %{{y:.4g}}<extra></extra>",
    ))
    fig.update_layout(title=f"Sensitivity: {metric} vs {key}", xaxis_title=key + (" (log)" if log else ""),
                      yaxis_title=metric, **LAYOUT)
    if log:
        fig.update_xaxes(type="log", exponentformat="power")
    elif not pd.api.types.is_numeric_dtype(points[key]):
        fig.update_xaxes(type="category")
    return fig


def _choices_figure(table: pd.DataFrame, points: pd.DataFrame, key: str, metric: str) -> go.Figure:
    """The categorical sensitivity view: the choices best-first by mean score, markers with ±1 std."""
    better_high = higher_is_better(metric.rsplit(" ", 1)[0])
    points = points.sort_values("mean", ascending=not better_high, kind="stable")
    order = [str(v) for v in points[key]]
    runs = table[[key, metric]].dropna()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=runs[key].astype(str), y=runs[metric], mode="markers", name="each run",
                             marker={"color": "#7f7f7f", "size": 7, "opacity": 0.6}))
    fig.add_trace(go.Scatter(
        x=order, y=points["mean"], mode="markers", name="mean ± std", marker={"size": 12, "color": "#1f77b4"},
        error_y={"type": "data", "array": points["std"], "visible": True, "thickness": 1.5},
        hovertemplate=f"{key}=%{{x}}<br>{metric} mean %{{y:.4g}}<extra></extra>",
    ))
    fig.update_layout(title=f"Sensitivity: {metric} by {key} (best first)", xaxis_title=key, yaxis_title=metric,
                      **LAYOUT)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=order)
    return fig


def parallel_figure(table: pd.DataFrame, keys: Sequence[str], metric: str) -> go.Figure:
    """Parallel coordinates over the swept keys and the metric, lines coloured by the metric."""
    frame = table[[*keys, metric]].dropna(subset=[metric])
    dims = []
    for key in keys:
        col = frame[key]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if is_log_key(key, col.tolist()) or key in ("optim.weight_decay",):
                dims.append({"label": f"log10 {key}", "values": log10_safe(col.tolist())})
            else:
                dims.append({"label": key, "values": col.astype(float)})
        else:
            cats = sorted({str(v) for v in col})
            dims.append({"label": key, "values": [cats.index(str(v)) for v in col],
                         "tickvals": list(range(len(cats))), "ticktext": cats})
    dims.append({"label": metric, "values": frame[metric]})
    fig = go.Figure(go.Parcoords(line={"color": frame[metric], "colorscale": COLOURSCALE, "showscale": True},
                                 dimensions=dims))
    fig.update_layout(title=f"Parallel coordinates: {', '.join(keys)} → {metric}", height=420,
                      margin={"l": 60, "r": 60, "t": 100, "b": 20})
    return fig


def before_after_figure(before: dict[str, Any], after: Sequence[dict[str, Any]], metric: str) -> go.Figure:
    """The parent's curve (grey, dashed) and each fix's (coloured); items as in ``overlay_figure``."""
    fig = go.Figure()
    x, y = downsample(np.asarray(before["steps"]), np.asarray(before["values"], dtype=float), 1000)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"before: {before['label']}",
                             line={"color": "#7f7f7f", "width": 2, "dash": "dash"}))
    palette = ("#2ca02c", "#1f77b4", "#9467bd", "#ff7f0e", "#8c564b")
    for i, curve in enumerate(after):
        x, y = downsample(np.asarray(curve["steps"]), np.asarray(curve["values"], dtype=float), 1000)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"after: {curve['label']}",
                                 line={"color": palette[i % len(palette)], "width": 2}))
    fig.update_layout(title=f"Before / after: {metric}", xaxis_title="step", yaxis_title=metric,
                      hovermode="x unified", **LAYOUT)
    return fig
