"""Gradient norms growing by orders of magnitude."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import scaled_lr
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import LOSS_NAMES

EARLY_PARTS = 10  # the early level is the median of the first tenth; growth is judged after it
EARLY_SHARE = 1 / EARLY_PARTS
EARLY_MIN_POINTS = 3  # an early level from fewer points is one noisy value
DECADE = 10.0  # one order of magnitude: "over 10x the early level" is the sustained-growth bar
LOG_FLOOR = 1e-30  # a zero norm on the log scale, far below any real one
SMOOTH_SHARE = 0.05  # the log-norm is smoothed over a twentieth of the curve: one spike is not growth
SPIKE_BASELINE_PARTS = 50  # the spike baseline: a rolling median over a fiftieth of the run
LR_FACTOR = 0.3  # the fix's lr: about half an order of magnitude lower
WARMUP_STEPS = 100  # the fix's warm-up: a few hundred steps at most, short next to a run
CLIP_NORM = 1.0  # the fix's max norm: the usual clip_grad_norm_ default in recipes


@register
@dataclass(frozen=True)
class ExplodingGradients(Rule):
    """What it detects:
    The global gradient norm (``grad_norm``, before clipping) grows by orders of
    magnitude above its typical level: over a sustained stretch, in repeated spikes,
    or in the run-up to the first NaN/inf of the gradient norm or the loss. A NaN that
    comes without that growth (a bad input, an overflow) is left to ``divergence``;
    when both fire, divergence says *that* the run broke and this finding says *how*.

    Why it matters:
    Huge gradients throw the weights far away in one step: loss spikes, then NaN.
    Clipping hides the symptom in the loss but not the cause.

    Suggested fix:
    Gradient clipping; a lower learning rate; warm-up; normalisation layers.

    Parameters:
    min_points: finite gradient-norm points needed before judging (the typical level needs them).
    growth: norm over the typical level that counts as exploding (100 = 2 orders of magnitude).
    sustained: share of the points after the first 10% that must be above 10× the early level.
    min_spikes: points at ``growth``× the typical level that count as repeated spikes.

    References:
    Pascanu et al., "On the difficulty of training recurrent neural networks" (2013);
    SageMaker Debugger ExplodingTensor rule.
    """

    id = "exploding_gradients"
    order = 30
    title = "Exploding gradients"
    severity = "warning"
    requires = (("grad_norm",),)

    min_points: int = 10
    growth: float = 100.0
    sustained: float = 0.2
    min_spikes: int = 2

    def check(self, run: RunData) -> list[Finding]:
        series = run.get("grad_norm")
        blowup = self._first_non_finite(run)
        ok = np.isfinite(series.values) & (series.values >= 0)
        if blowup is not None:
            ok &= series.steps < blowup
        raw_x, raw_y = series.steps[ok], series.values[ok]
        if len(raw_y) < self.min_points:
            return []
        early = curves.level(raw_y, EARLY_SHARE, end=False, min_n=EARLY_MIN_POINTS)
        typical = max(early, float(np.median(raw_y)))
        if typical <= 0:
            return []
        x, y = curves.reduce(raw_x, raw_y)
        logs = curves.smooth(np.log10(np.maximum(y, LOG_FLOOR)), curves.window(len(y), SMOOTH_SHARE))
        after = y[len(y) // EARLY_PARTS :]
        high = float(np.mean(after > DECADE * early)) if len(after) else 0.0
        smoothed_growth = DECADE ** (float(logs.max()) - np.log10(early)) if early > 0 else 0.0
        peak = int(np.argmax(raw_y))
        spikes = self._spikes(raw_y)
        if blowup is not None and raw_y[peak] >= self.growth * early > 0:
            kind = "blowup"
        elif smoothed_growth >= self.growth and high >= self.sustained:
            kind = "sustained"
        elif spikes.sum() >= self.min_spikes:
            kind = "spikes"
        else:
            return []
        above = raw_y > DECADE * typical
        onset = float(raw_x[int(np.argmax(above))]) if above.any() else raw_x[peak]
        end = float(blowup) if blowup is not None else float(raw_x[-1])
        orders = np.log10(raw_y[peak] / (early if kind == "blowup" else typical))
        if kind == "blowup":
            summary = (
                f"grad_norm grew {orders:.1f} orders of magnitude, from an early level of {curves.fmt(early)} "
                f"to {curves.fmt(raw_y[peak])} at {run.when(float(raw_x[peak]))}, right before the first NaN/inf "
                f"at {run.when(end)}: the gradients exploded and took the run down."
            )
        elif kind == "sustained":
            summary = (
                f"grad_norm grew {np.log10(smoothed_growth):.1f} orders of magnitude above its early level "
                f"{curves.fmt(early)} (peak {curves.fmt(raw_y[peak])} at {run.when(float(raw_x[peak]))}); "
                f"{high:.0%} of later steps are over 10× the early level."
            )
        else:
            summary = (
                f"grad_norm spiked {int(spikes.sum())} times to over {self.growth:g}× its typical level "
                f"{curves.fmt(typical)} (peak {curves.fmt(raw_y[peak])} at {run.when(float(raw_x[peak]))})."
            )
        values = {
            "kind": kind,
            "early_level": early,
            "typical_level": typical,
            "peak": float(raw_y[peak]),
            "peak_step": float(raw_x[peak]),
            "growth": float(raw_y[peak] / early) if early > 0 else float("inf"),
            "orders": float(orders),
            "spikes": int(spikes.sum()),
            "share_above_10x": high,
            "first_non_finite_step": blowup,
        }
        marks = (
            {"kind": "hline", "value": typical, "label": "typical level"},
            {"kind": "span", "start": onset, "end": end, "label": "exploding"},
            {"kind": "point", "step": float(raw_x[peak]), "value": float(raw_y[peak]), "label": "peak"},
        )
        fixes = [
            Fix(
                f"Clip gradients (max norm {CLIP_NORM:g})",
                f"caps each update whatever the gradient; the norm reached {curves.fmt(raw_y[peak])}",
                {"train.clip_grad": CLIP_NORM},
            ),
            Fix(
                f"Lower the learning rate (×{LR_FACTOR:g})",
                "smaller steps keep the weights where gradients are sane",
                scaled_lr(run, LR_FACTOR),
            ),
            Fix(
                "Warm the learning rate up",
                "early large steps start the blow-up",
                {"sched.name": "warmup", "sched.warmup_steps": WARMUP_STEPS},
            ),
            Fix(
                "Add normalisation layers",
                "batch norm keeps activations and gradients in range",
                {"model.batch_norm": True},
            ),
        ]
        return [self.finding(summary, Evidence("grad_norm", int(onset), int(end), values, marks), fixes)]

    def _spikes(self, y: np.ndarray) -> np.ndarray:
        """Points ``growth``× above the median of the points just before them.

        A causal baseline, not the run's median: gradients are naturally largest at the
        start and shrink by orders of magnitude as the loss converges, so the first steps
        of a long run are not spikes against its converged tail.
        """
        window = max(self.min_points, len(y) // SPIKE_BASELINE_PARTS)
        baseline = pd.Series(y).rolling(window, min_periods=window).median().shift(1).to_numpy()
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(y >= self.growth * baseline, nan=False).astype(bool)

    @staticmethod
    def _first_non_finite(run: RunData) -> float | None:
        """The first step where the gradient norm or a loss stops being a number."""
        steps = []
        for name in ("grad_norm", *LOSS_NAMES):
            s = run.get(name)
            if s is not None and not np.isfinite(s.values).all():
                steps.append(float(s.steps[int(np.argmax(~np.isfinite(s.values)))]))
        return min(steps) if steps else None
