"""Plotly figure builders: training curves with the findings' evidence drawn on them.

Pure (numpy + plotly, no Streamlit, no SQL) so the dashboard, the CLI and the tests
build the same figure. A browser draws ~2,000 points per curve fluidly, so a curve of
a million logged steps is smoothed first (on every point, so the EMA is exact) and
then downsampled with MinMaxLTTB, which keeps each bucket's extremes: a loss spike
survives the downsampling instead of being averaged away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from scipy.signal import lfilter
from tsdownsample import MinMaxLTTBDownsampler

from diagnostics.findings import Finding

Series = tuple[np.ndarray, np.ndarray]

# Past this many logged points a curve is drawn with WebGL (Scattergl); below it SVG,
# which renders everywhere (also in browsers without WebGL) and is crisp in screenshots.
GL_THRESHOLD = 20_000
SEVERITY_COLOURS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def ema(values: np.ndarray, smoothing: float, steps: np.ndarray | None = None) -> np.ndarray:
    """Exponential moving average ``y_t = s*y_{t-1} + (1-s)*x_t``, vectorised via ``lfilter``.

    With ``steps``, ``smoothing`` is per *step*: a curve logged every k steps uses ``s**k``,
    so a per-epoch val/loss is not smeared over epochs by a factor tuned for the per-step
    train/loss, and both curves are smoothed over the same stretch of training.
    NaN/inf points do not poison the rest of the curve: the filter carries the last
    finite value across them, and the output is NaN exactly where the input was not finite.
    """
    values = np.asarray(values, dtype=float)
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if steps is not None and values.size > 1:
        stride = float(np.median(np.diff(np.asarray(steps, dtype=float))))
        smoothing = smoothing ** max(stride, 1.0)
    if smoothing <= 1e-12 or values.size == 0:
        return values.copy()
    finite = np.isfinite(values)
    if not finite.any():
        return np.full_like(values, np.nan)
    # forward-fill non-finite values with the last finite one (the first finite one before any)
    idx = np.where(finite, np.arange(values.size), 0)
    np.maximum.accumulate(idx, out=idx)
    filled = values[idx]
    filled[: np.argmax(finite)] = values[np.argmax(finite)]
    # start the filter at the first value so the curve is not dragged towards 0 (no debias needed)
    out, _ = lfilter([1 - smoothing], [1, -smoothing], filled, zi=[smoothing * filled[0]])
    out[~finite] = np.nan
    return out


def downsample(steps: np.ndarray, values: np.ndarray, max_points: int) -> Series:
    """At most ``max_points`` finite points, keeping each bucket's min and max (spikes survive)."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    x, y = steps[finite], values[finite]
    if x.size <= max_points:
        return x, y
    order_ok = bool(np.all(x[1:] >= x[:-1]))
    if not order_ok:
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    idx = MinMaxLTTBDownsampler().downsample(
        np.ascontiguousarray(x, dtype=np.int64), np.ascontiguousarray(y), n_out=max_points
    )
    return x[idx], y[idx]


def non_finite_marks(steps: np.ndarray, values: np.ndarray) -> list[dict[str, Any]]:
    """Where the curve first went NaN, +inf or -inf: one point each, at the last finite value."""
    values = np.asarray(values, dtype=float)
    marks = []
    kinds = (("NaN", np.isnan(values)), ("+inf", np.isposinf(values)), ("-inf", np.isneginf(values)))
    for label, hit in kinds:
        if not hit.any():
            continue
        i = int(np.argmax(hit))
        before = values[:i][np.isfinite(values[:i])]
        marks.append({"step": int(steps[i]), "y": float(before[-1]) if before.size else 0.0,
                      "label": f"first {label} at step {int(steps[i])}"})
    return marks


def _trace(n_logged: int, **kwargs: Any) -> go.Scatter | go.Scattergl:
    cls = go.Scattergl if n_logged > GL_THRESHOLD else go.Scatter
    return cls(mode="lines", **kwargs)


def _compact(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int32 steps and float32 values halve the base64 payload; a chart needs no more precision."""
    xs = x.astype(np.int32) if x.size and np.abs(x).max() < 2**31 else x.astype(float)
    return xs, y.astype(np.float32)


def curve_figure(
    series: Mapping[str, Series],
    smoothing: float = 0.0,
    log_y: bool = False,
    findings: Iterable[Finding] = (),
    max_points: int = 2000,
) -> go.Figure:
    """One chart of several metrics against step, smoothed, downsampled, with evidence marked.

    With ``smoothing > 0`` the raw curve is drawn faintly behind the smoothed one, so
    the noise the EMA hides is still visible.
    """
    fig = go.Figure()
    for i, (name, (steps, values)) in enumerate(series.items()):
        steps, values = np.asarray(steps), np.asarray(values, dtype=float)
        colour = PALETTE[i % len(PALETTE)]
        raw_x, raw_y = _compact(*downsample(steps, values, max_points))
        smoothed = ema(values, smoothing, steps) if smoothing > 0 else values
        if smoothed is not values and not np.array_equal(smoothed, values, equal_nan=True):
            fig.add_trace(_trace(steps.size, x=raw_x, y=raw_y, name=f"{name} (raw)", legendgroup=name,
                                 showlegend=False, opacity=0.25, line={"color": colour, "width": 1},
                                 hoverinfo="skip"))
            sm_x, sm_y = _compact(*downsample(steps, smoothed, max_points))
            fig.add_trace(_trace(steps.size, x=sm_x, y=sm_y, name=name, legendgroup=name,
                                 line={"color": colour, "width": 2}))
        else:  # no smoothing asked, or none at this curve's logging stride: one full-strength line
            fig.add_trace(_trace(steps.size, x=raw_x, y=raw_y, name=name, legendgroup=name,
                                 line={"color": colour, "width": 1.5}))
        for mark in non_finite_marks(steps, values):
            fig.add_trace(go.Scatter(
                x=[mark["step"]], y=[mark["y"]], mode="markers+text", name=f"{name}: {mark['label']}",
                text=[mark["label"]], textposition="top center", showlegend=False, legendgroup=name,
                marker={"symbol": "x", "size": 12, "color": "#d62728", "line": {"width": 2}},
            ))
    row = 0
    for finding in findings:
        row = _draw_evidence(fig, finding, series, log_y=log_y, row=row)
    fig.update_layout(
        height=460, margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        xaxis_title="step", uirevision="keep",  # keep the user's zoom across live refreshes
    )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def _last_finite_before(series: Series | None, step: int) -> float:
    """Where to pin a NaN point on the chart: the curve's last finite value before it."""
    if series is None:
        return 0.0
    steps, values = np.asarray(series[0]), np.asarray(series[1], dtype=float)
    ok = np.isfinite(values) & (steps <= step)
    return float(values[ok][-1]) if ok.any() else 0.0


def _label(fig: go.Figure, x: float, text: str, colour: str, row: int) -> None:
    """A mark's label near the top of the plot, one row lower per label so they never overlap."""
    fig.add_annotation(x=x, xref="x", y=1 - 0.06 * (row % 8), yref="paper", xanchor="left", yanchor="top",
                       text=text, showarrow=False, font={"color": colour, "size": 11},
                       bgcolor="rgba(255,255,255,0.7)")


def _draw_evidence(fig: go.Figure, finding: Finding, series: Mapping[str, Series], log_y: bool,
                   row: int) -> int:
    """Draw one finding's marks; returns the next free label row.

    Step marks (vline, span) always apply, since every curve shares the step axis; value
    marks (hline, point) only when their own metric is on the chart.
    """
    colour = SEVERITY_COLOURS.get(finding.severity, "#7f7f7f")
    on_chart = finding.evidence.metric in series
    for mark in finding.evidence.marks:
        kind, label = mark.get("kind"), str(mark.get("label", finding.title))
        if kind == "vline" and mark.get("step") is not None:
            fig.add_vline(x=mark["step"], line={"color": colour, "dash": "dash", "width": 1.5})
            _label(fig, mark["step"], label, colour, row)
            row += 1
        elif kind == "span" and mark.get("start") is not None and mark.get("end") is not None:
            # info findings shade lightly so a warning's span on the same stretch still reads
            opacity = 0.05 if finding.severity == "info" else 0.1
            fig.add_vrect(x0=mark["start"], x1=mark["end"], fillcolor=colour, opacity=opacity, line_width=0)
            _label(fig, mark["start"], label, colour, row)
            row += 1
        elif kind == "hline" and on_chart and mark.get("value") is not None and not log_y:
            fig.add_hline(y=mark["value"], line={"color": colour, "dash": "dot", "width": 1.5},
                          annotation_text=label, annotation_position="bottom right",
                          annotation_font_color=colour)
        elif kind == "point" and on_chart and mark.get("step") is not None:
            value = mark.get("value")
            finite = value is not None and np.isfinite(value)
            y = value if finite else _last_finite_before(series.get(finding.evidence.metric), mark["step"])
            fig.add_trace(go.Scatter(
                x=[mark["step"]], y=[y], mode="markers", name=label, showlegend=False,
                hovertext=[label], hoverinfo="text",
                marker={"symbol": "circle-open", "size": 14, "color": colour, "line": {"width": 2.5}},
            ))
    return row
