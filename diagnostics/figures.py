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
from plotly.subplots import make_subplots
from tsdownsample import MinMaxLTTBDownsampler

from diagnostics.findings import Finding

Series = tuple[np.ndarray, np.ndarray]

# Past this many points drawn in one figure its curves use WebGL (Scattergl); below it SVG,
# which renders everywhere (also in browsers without WebGL) and is crisp in screenshots. Counted
# after downsampling: a single run's chart (a few curves of at most max_points each) stays SVG,
# so a live run page that redraws every few seconds never piles up WebGL contexts (a browser
# keeps only 16 and then drops the oldest chart's).
GL_THRESHOLD = 20_000
SEVERITY_COLOURS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def ema(values: np.ndarray, smoothing: float, steps: np.ndarray | None = None) -> np.ndarray:
    """Exponential moving average ``y_t = s*y_{t-1} + (1-s)*x_t``, vectorised in numpy blocks.

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
    out = _recurrence(filled, smoothing, float(filled[0]))
    out[~finite] = np.nan
    return out


# A weight s**d below this adds nothing a float64 curve can show: the scan stops there.
_NEGLIGIBLE = 1e-17


def _recurrence(x: np.ndarray, s: float, carry: float) -> np.ndarray:
    """``y_t = s*y_{t-1} + (1-s)*x_t`` from ``y_{-1} = carry``, without a Python loop per point.

    A doubling scan: after the pass with shift d each ``y_t`` holds ``sum_{k<2d} s**k (1-s) x_{t-k}``,
    so log2(memory) passes of whole-array numpy suffice (about 20 for a million points at s=0.99999).
    Numpy only, so the dashboard's first chart does not pay for importing scipy.signal (seconds on
    a cold server, and its memory).
    """
    out = (1 - s) * x
    shift, weight = 1, s
    while shift < out.size and weight > _NEGLIGIBLE:
        out[shift:] += weight * out[:-shift].copy()
        shift, weight = shift * 2, weight * weight
    return out + carry * s ** np.arange(1, out.size + 1, dtype=float)


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


def _drawn_points(series: Mapping[str, Series], max_points: int) -> int:
    """Points the figure's lines will hold once downsampled (a smoothed curve also draws its raw one)."""
    return sum(2 * min(np.size(steps), max_points) for steps, _ in series.values())


def _trace(webgl: bool, **kwargs: Any) -> go.Scatter | go.Scattergl:
    cls = go.Scattergl if webgl else go.Scatter
    return cls(mode="lines", **kwargs)


def _compact(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int32 steps and float32 values halve the base64 payload; a chart needs no more precision."""
    xs = x.astype(np.int32) if x.size and np.abs(x).max() < 2**31 else x.astype(float)
    return xs, y.astype(np.float32)


SPARSE_POINTS = 100  # a curve with fewer points is drawn with its points and never smoothed by "auto"
NO_SMOOTHING_BELOW = 30  # too few points for any smoothing to mean anything


def auto_smoothing(n_points: int) -> float:
    """An EMA weight that follows point density: none for sparse (per-epoch) curves, a window of
    ~1/30 of the curve for dense ones, so the smoothed line neither lags nor stays noisy."""
    if n_points < SPARSE_POINTS * 2:
        return 0.0
    return float(min(0.97, 1 - 30 / n_points))


def _smooth(steps: np.ndarray, values: np.ndarray, smoothing: float | str) -> np.ndarray:
    """``"auto"``: by density, per point; a number: per step (as ``ema`` documents), never on sparse curves."""
    if smoothing == "auto":
        weight = auto_smoothing(int(np.isfinite(values).sum()))
        return ema(values, weight) if weight > 0 else values
    if float(smoothing) <= 0 or values.size < NO_SMOOTHING_BELOW:
        return values
    return ema(values, float(smoothing), steps)


def _xmap(x_map: Series | None, steps: np.ndarray) -> np.ndarray:
    """Steps → the chosen x (epoch, wall time) by interpolation over the run's known (step, x) pairs."""
    if x_map is None:
        return steps
    known_steps, known_x = (np.asarray(a, dtype=float) for a in x_map)
    return np.interp(np.asarray(steps, dtype=float), known_steps, known_x)


def _nan_tail(steps: np.ndarray, values: np.ndarray, max_points: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Where the curve is NaN/inf, pinned at its last finite value: the broken stretch stays on the chart."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return np.empty(0), np.empty(0)
    finite = np.isfinite(values)
    idx = np.where(finite, np.arange(values.size), 0)
    np.maximum.accumulate(idx, out=idx)
    pinned = np.where(finite[idx], values[idx], 0.0)
    where = np.flatnonzero(bad)
    if where.size > max_points:
        where = where[np.linspace(0, where.size - 1, max_points).astype(int)]
    return steps[where], pinned[where]


def curve_figure(
    series: Mapping[str, Series],
    smoothing: float | str = 0.0,
    log_y: bool = False,
    findings: Iterable[Finding] = (),
    max_points: int = 2000,
    x_map: Series | None = None,
    x_title: str = "step",
    panels: bool = False,
) -> go.Figure:
    """Several metrics against step (or, through ``x_map``, epoch or wall time), smoothed, downsampled,
    evidence marked; with ``panels`` one panel per metric on a shared x-axis.

    ``smoothing="auto"`` adapts to each curve's point density (off for sparse per-epoch curves).
    Whenever a curve is smoothed its raw curve is drawn faintly behind it; a sparse curve shows its
    points. A NaN/inf stretch is drawn as grey crosses at the last finite value, so a divergence's
    tail is visible and the axis covers the whole run.
    """
    names = list(series)
    rows = len(names) if panels and len(names) > 1 else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=names if rows > 1 else None) if rows > 1 else go.Figure()
    where = {name: ({"row": i + 1, "col": 1} if rows > 1 else {}) for i, name in enumerate(names)}
    webgl = _drawn_points(series, max_points) > GL_THRESHOLD
    for i, (name, (steps, values)) in enumerate(series.items()):
        steps, values = np.asarray(steps), np.asarray(values, dtype=float)
        colour, at = PALETTE[i % len(PALETTE)], where[name]
        raw_x, raw_y = _compact(*downsample(steps, values, max_points))
        sparse = int(np.isfinite(values).sum()) < SPARSE_POINTS
        smoothed = _smooth(steps, values, smoothing)
        if smoothed is not values and not np.array_equal(smoothed, values, equal_nan=True):
            fig.add_trace(_trace(webgl, x=_xmap(x_map, raw_x), y=raw_y, name=f"{name} (raw)",
                                 legendgroup=name, showlegend=False, opacity=0.25,
                                 line={"color": colour, "width": 1}, hoverinfo="skip"), **at)
            sm_x, sm_y = _compact(*downsample(steps, smoothed, max_points))
            fig.add_trace(_trace(webgl, x=_xmap(x_map, sm_x), y=sm_y, name=name, legendgroup=name,
                                 line={"color": colour, "width": 2}), **at)
        else:  # not smoothed (asked off, or a sparse curve): one full-strength line, points shown if few
            trace = _trace(webgl, x=_xmap(x_map, raw_x), y=raw_y, name=name, legendgroup=name,
                           line={"color": colour, "width": 1.5})
            if sparse:
                trace.update(mode="lines+markers", marker={"size": 5})
            fig.add_trace(trace, **at)
        tail_x, tail_y = _nan_tail(steps, values)
        if tail_x.size:  # a metric that is NaN/inf throughout has no line: its crosses carry its legend entry
            no_line = not np.isfinite(values).any()
            fig.add_trace(go.Scatter(x=_xmap(x_map, tail_x), y=tail_y, mode="markers",
                                     name=f"{name} (only NaN/inf)" if no_line else f"{name} NaN/inf",
                                     legendgroup=name, showlegend=no_line, hovertemplate="NaN/inf at %{x}",
                                     marker={"symbol": "x-thin", "size": 6, "color": "#7f7f7f",
                                             "line": {"width": 1, "color": "#7f7f7f"}}), **at)
        for j, mark in enumerate(non_finite_marks(steps, values)):  # alternate above/below: never overlap
            fig.add_trace(go.Scatter(
                x=_xmap(x_map, np.array([mark["step"]])), y=[mark["y"]], mode="markers+text",
                name=f"{name}: {mark['label']}", text=[mark["label"]],
                textposition=("top right", "bottom right", "middle right")[j % 3], showlegend=False,
                legendgroup=name, marker={"symbol": "x", "size": 12, "color": "#d62728", "line": {"width": 2}},
            ), **at)
    row = 0
    broken = any(not np.isfinite(np.asarray(v, dtype=float)).all() for _, v in series.values())
    for finding in findings:
        row = _draw_evidence(fig, finding, series, log_y=log_y, row=row, x_map=x_map, where=where, bottom=broken)
    fig.update_layout(
        height=max(460, 230 * rows), margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="x unified",
        showlegend=True,  # plotly hides a lone curve's legend: then nothing on the chart says which metric it is
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        uirevision="keep",  # keep the user's zoom across live refreshes
    )
    fig.update_xaxes(title_text=x_title, row=rows if rows > 1 else None, col=1 if rows > 1 else None)
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


def _label(fig: go.Figure, x: float, text: str, colour: str, row: int, bottom: bool = False) -> None:
    """A mark's label near the top of the plot (or the bottom, when the top holds the first-NaN/inf
    labels of a divergence), one row further in per label so they never overlap."""
    y = 0.06 * (row % 8) if bottom else 1 - 0.06 * (row % 8)
    fig.add_annotation(x=x, xref="x", y=y, yref="paper", xanchor="left", yanchor="bottom" if bottom else "top",
                       text=text, showarrow=False, font={"color": colour, "size": 11},
                       bgcolor="rgba(255,255,255,0.7)")


def _draw_evidence(fig: go.Figure, finding: Finding, series: Mapping[str, Series], log_y: bool,
                   row: int, x_map: Series | None = None, where: Mapping[str, dict] | None = None,
                   bottom: bool = False) -> int:
    """Draw one finding's marks; returns the next free label row.

    Step marks (vline, span) always apply, across every panel, since all curves share the x-axis;
    value marks (hline, point) only when their own metric is on the chart, in its own panel.
    """
    colour = SEVERITY_COLOURS.get(finding.severity, "#7f7f7f")
    on_chart = finding.evidence.metric in series
    at = (where or {}).get(finding.evidence.metric, {})
    every = {"row": "all", "col": 1} if where and any(where.values()) else {}

    def x(step: float) -> float:
        return float(_xmap(x_map, np.array([step]))[0])

    for mark in finding.evidence.marks:
        kind, label = mark.get("kind"), str(mark.get("label", finding.title))
        if kind == "vline" and mark.get("step") is not None:
            fig.add_vline(x=x(mark["step"]), line={"color": colour, "dash": "dash", "width": 1.5}, **every)
            _label(fig, x(mark["step"]), label, colour, row, bottom)
            row += 1
        elif kind == "span" and mark.get("start") is not None and mark.get("end") is not None:
            # info findings shade lightly so a warning's span on the same stretch still reads
            opacity = 0.05 if finding.severity == "info" else 0.1
            fig.add_vrect(x0=x(mark["start"]), x1=x(mark["end"]), fillcolor=colour, opacity=opacity, line_width=0,
                          **every)
            _label(fig, x(mark["start"]), label, colour, row, bottom)
            row += 1
        elif kind == "hline" and on_chart and mark.get("value") is not None and not log_y:
            fig.add_hline(y=mark["value"], line={"color": colour, "dash": "dot", "width": 1.5},
                          annotation_text=label, annotation_position="bottom right",
                          annotation_font_color=colour, **at)
        elif kind == "point" and on_chart and mark.get("step") is not None:
            value = mark.get("value")
            finite = value is not None and np.isfinite(value)
            y = value if finite else _last_finite_before(series.get(finding.evidence.metric), mark["step"])
            fig.add_trace(go.Scatter(
                x=[x(mark["step"])], y=[y], mode="markers", name=label, showlegend=False,
                hovertext=[label], hoverinfo="text",
                marker={"symbol": "circle-open", "size": 14, "color": colour, "line": {"width": 2.5}},
            ), **at)
    return row
