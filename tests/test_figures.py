"""Figure builders: smoothing, spike-keeping downsampling, non-finite marks, evidence, payload size."""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import pytest

from diagnostics.figures import GL_THRESHOLD, curve_figure, downsample, ema, non_finite_marks
from diagnostics.findings import Evidence, Finding, Fix


def _decoded(trace_axis: object) -> np.ndarray:
    """Plotly stores numpy arrays as typed arrays; read them back whichever form they take."""
    return np.asarray(trace_axis, dtype=float)


def test_ema_matches_the_recurrence() -> None:
    x = np.array([1.0, 2.0, 4.0, 0.0])
    s = 0.5
    expected = [1.0, 1.5, 2.75, 1.375]  # y0 = x0, then y = s*y + (1-s)*x
    assert ema(x, s).tolist() == expected


@pytest.mark.parametrize("s", [0.0001, 0.3, 0.9, 0.999, 0.99999])
def test_ema_matches_a_loop_on_long_noisy_curves(s: float) -> None:
    """The numpy scan equals the step-by-step recurrence on a long curve with a spike, for short and long memory."""
    rng = np.random.default_rng(1)
    x = 10 + 3 * rng.standard_normal(5000)
    x[2500] = 1e4
    expected, y = np.empty_like(x), x[0]
    for i, v in enumerate(x):
        y = s * y + (1 - s) * v
        expected[i] = y
    assert np.allclose(ema(x, s), expected, rtol=1e-12, atol=1e-9)


def test_ema_zero_smoothing_is_identity() -> None:
    x = np.array([3.0, np.nan, 1.0])
    out = ema(x, 0.0)
    assert np.array_equal(out, x, equal_nan=True) and out is not x


def test_ema_carries_across_nan_and_keeps_nan_where_it_was() -> None:
    x = np.array([np.nan, 2.0, np.nan, 4.0, np.inf])
    out = ema(x, 0.5)
    assert np.isnan(out[0]) and np.isnan(out[2]) and np.isnan(out[4])
    # the NaN at index 2 neither poisons nor resets the filter: 2 -> (2 carried) -> 0.5*2 + 0.5*4 = ...
    assert out[1] == 2.0
    assert out[3] == pytest.approx(0.5 * (0.5 * 2.0 + 0.5 * 2.0) + 0.5 * 4.0)


def test_ema_all_nan_stays_nan() -> None:
    assert np.isnan(ema(np.full(5, np.nan), 0.9)).all()


def test_ema_smoothing_is_per_step() -> None:
    """A curve logged every 10 steps is smoothed with s**10, i.e. over the same stretch of steps."""
    x = np.array([0.0, 1.0, 1.0])
    out = ema(x, 0.9, steps=np.array([0, 10, 20]))
    s = 0.9**10
    assert out[1] == pytest.approx((1 - s) * 1.0)


def test_ema_rejects_bad_smoothing() -> None:
    with pytest.raises(ValueError, match="smoothing must be in"):
        ema(np.ones(3), 1.0)


def test_downsample_keeps_the_spike_and_drops_nan() -> None:
    steps = np.arange(100_000)
    values = np.sin(steps / 1000.0)
    values[31_337] = 50.0
    values[60_000:60_010] = np.nan
    x, y = downsample(steps, values, 2000)
    assert len(x) == 2000
    assert y.max() == 50.0 and x[np.argmax(y)] == 31_337
    assert np.isfinite(y).all()
    assert np.all(np.diff(x) > 0)


def test_downsample_short_curve_untouched() -> None:
    x, y = downsample(np.array([0, 1, 2]), np.array([1.0, np.nan, 3.0]), 2000)
    assert x.tolist() == [0, 2] and y.tolist() == [1.0, 3.0]


def test_non_finite_marks_first_nan_and_inf() -> None:
    steps = np.array([10, 20, 30, 40, 50])
    values = np.array([1.0, 2.0, np.inf, np.nan, np.nan])
    assert non_finite_marks(steps, values) == [
        {"step": 40, "y": 2.0, "label": "first NaN at step 40"},
        {"step": 30, "y": 2.0, "label": "first +inf at step 30"},
    ]


def test_curve_figure_smoothed_draws_raw_faintly_behind() -> None:
    steps = np.arange(500)
    values = np.random.default_rng(0).normal(size=500)
    fig = curve_figure({"train/loss": (steps, values)}, smoothing=0.9)
    raw, smooth = fig.data
    assert raw.name == "train/loss (raw)" and raw.opacity == 0.25 and raw.showlegend is False
    assert smooth.name == "train/loss" and smooth.opacity is None
    assert isinstance(raw, go.Scatter)  # short curves stay SVG


def test_curve_figure_log_y_and_nan_marker() -> None:
    steps = np.arange(10)
    values = np.array([1.0, 0.5, 0.4, 0.3, np.nan, np.nan, 0.2, 0.1, 0.1, 0.1])
    fig = curve_figure({"train/loss": (steps, values)}, log_y=True)
    assert fig.layout.yaxis.type == "log"
    markers = [t for t in fig.data if t.mode == "markers+text"]
    assert len(markers) == 1 and markers[0].x == (4,) and markers[0].y == (0.3,)


def test_curve_figure_draws_evidence_marks() -> None:
    finding = Finding(
        rule="negative_loss", severity="critical", title="Loss below zero",
        summary="train/loss reached -0.93",
        evidence=Evidence(metric="train/loss", start_step=3, end_step=9, marks=(
            {"kind": "vline", "step": 3, "label": "onset"},
            {"kind": "span", "start": 3, "end": 9, "label": "negative"},
            {"kind": "hline", "value": 0.0, "label": "zero"},
            {"kind": "point", "step": 5, "value": float("nan"), "label": "first NaN"},
        )),
        fixes=(Fix("Use LogSoftmax", "NLLLoss expects log-probabilities", {"model.head": "log_softmax"}),),
    )
    steps = np.arange(10)
    values = -np.linspace(0.1, 0.9, 10)
    fig = curve_figure({"train/loss": (steps, values)}, findings=[finding])
    kinds = sorted(shape.type for shape in fig.layout.shapes)
    assert kinds == ["line", "line", "rect"]  # vline, hline, span
    texts = sorted(a.text for a in fig.layout.annotations)
    assert texts == ["negative", "onset", "zero"]
    point = [t for t in fig.data if t.mode == "markers"]
    assert len(point) == 1 and point[0].x == (5,) and point[0].y == (pytest.approx(-0.5444, abs=1e-3),)
    # value marks belong to their own metric: not drawn when train/loss is not on the chart
    other = curve_figure({"val/acc": (steps, values)}, findings=[finding])
    assert sorted(s.type for s in other.layout.shapes) == ["line", "rect"]
    assert not [t for t in other.data if t.mode == "markers"]


def test_webgl_only_when_the_figure_draws_many_points() -> None:
    """A run page (a few curves, each downsampled) is SVG, so a live page that redraws every few
    seconds never piles up WebGL contexts; a figure drawing more than GL_THRESHOLD points uses it."""
    steps = np.arange(200_000)
    curve = (steps, np.exp(-steps / 5e4))
    run_page = curve_figure({"train/loss": curve, "val/loss": curve, "lr": curve}, smoothing=0.9)
    assert all(type(t) is go.Scatter for t in run_page.data)
    many = {f"run {i}": curve for i in range(GL_THRESHOLD // 2000 + 1)}
    compare = curve_figure(many, smoothing=0.0)
    assert all(isinstance(t, go.Scattergl) for t in compare.data if t.mode == "lines")


def test_million_points_payload_and_timing() -> None:
    n = 1_000_000
    rng = np.random.default_rng(1)
    steps = np.arange(n)
    values = np.exp(-steps / 2e5) + 0.05 * rng.standard_normal(n)
    values[654_321] = 25.0
    values[990_000:] = np.nan
    curve_figure({"warm": (steps[:100], values[:100])}, smoothing=0.5)  # import/validator warm-up
    for smoothing in (0.0, 0.9):
        start = time.perf_counter()
        fig = curve_figure({"train/loss": (steps, values)}, smoothing=smoothing)
        built = time.perf_counter() - start
        payload = len(fig.to_json())
        print(f"\n1M points, smoothing={smoothing}: built in {built * 1000:.0f} ms, "
              f"JSON {payload / 1000:.1f} kB")
        assert payload < 100_000
        lines = [t for t in fig.data if t.mode == "lines"]
        assert all(isinstance(t, go.Scatter) for t in lines)  # 2,000 drawn points: SVG, no WebGL context
        assert all(len(t.x) <= 2000 for t in lines)
        assert _decoded(lines[0].y).max() == 25.0  # the spike survives downsampling
    assert [t.text for t in fig.data if t.mode == "markers+text"] == [("first NaN at step 990000",)]
