"""Figures of the tuning tools: the learning-rate range test's loss-vs-lr curve and the
hyper-parameter importance bars. Pure plotly, like diagnostics.figures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

LAYOUT = {"height": 380, "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}
RAW, SMOOTH, MARK = "#b0b0b0", "#1f77b4", "#2ca02c"


def lr_find_figure(lrs: Sequence[float], losses: Sequence[float], smooth: Sequence[float],
                   suggested: float | None) -> go.Figure:
    """Loss against lr on a log x axis: each step (grey), the smoothed loss (blue), the suggestion (green)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(lrs), y=list(losses), mode="lines", name="loss per step",
                             line={"color": RAW, "width": 1}))
    fig.add_trace(go.Scatter(x=list(lrs), y=list(smooth), mode="lines", name="smoothed",
                             line={"color": SMOOTH, "width": 2.5}))
    if suggested is not None:
        fig.add_vline(x=suggested, line={"color": MARK, "dash": "dash", "width": 2})
        # an annotation on a log axis is placed in log10 units (a shape is not)
        fig.add_annotation(x=float(np.log10(suggested)), y=1, yref="paper", text=f"suggested {suggested:.3g}",
                           showarrow=False, xanchor="right", font={"color": MARK})
    finite = np.asarray(smooth, dtype=float)
    finite = finite[np.isfinite(finite)]
    raw = np.asarray(losses, dtype=float)
    raw = raw[np.isfinite(raw)]
    fig.update_layout(title="Learning-rate range test: loss vs lr", xaxis_title="lr (log)", yaxis_title="train/loss",
                      hovermode="x unified", **LAYOUT)
    fig.update_xaxes(type="log", exponentformat="power")
    if len(finite) and len(raw):  # the blow-up would flatten the descent: show up to a little above the start
        low, top = float(min(raw.min(), finite.min())), float(finite[0]) * 1.5
        fig.update_yaxes(range=[low - 0.05 * abs(low), max(top, low + 1e-9)])
    return fig


def importance_figure(importances: dict[str, float], metric: str) -> go.Figure:
    """One horizontal bar per key: its share of the explained spread of ``metric`` (largest on top)."""
    keys = sorted(importances, key=importances.get)
    fig = go.Figure(go.Bar(x=[importances[k] for k in keys], y=keys, orientation="h",
                           marker={"color": SMOOTH}, text=[f"{importances[k]:.0%}" for k in keys],
                           textposition="auto", hovertemplate="%{y}: %{x:.0%}<extra></extra>"))
    fig.update_layout(title=f"Which hyper-parameters mattered for {metric}", xaxis_title="share of the spread",
                      yaxis_title=None, height=max(220, 80 + 45 * len(keys)),
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    return fig
