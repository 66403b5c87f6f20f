"""Gradient norms growing by orders of magnitude."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import scaled_lr
from diagnostics.rundata import RunData


@register
@dataclass(frozen=True)
class ExplodingGradients(Rule):
    """What it detects:
    The global gradient norm (``grad_norm``, before clipping) grows by orders of
    magnitude above its early level over a sustained stretch, or becomes NaN/inf.
    A diverging loss explains it better and takes precedence.

    Why it matters:
    Huge gradients throw the weights far away in one step: loss spikes, then NaN.
    Clipping hides the symptom in the loss but not the cause.

    Suggested fix:
    Gradient clipping; a lower learning rate; warm-up; normalisation layers.

    Parameters:
    min_points: gradient-norm points needed before judging.
    growth: smoothed norm over the early level that counts as exploding (100 = 2 orders).
    sustained: share of the points after the first 10% that must be above 10× the early level.

    References:
    Pascanu et al., "On the difficulty of training recurrent neural networks" (2013);
    SageMaker Debugger ExplodingTensor rule.
    """

    id = "exploding_gradients"
    title = "Exploding gradients"
    severity = "warning"
    requires = (("grad_norm",),)
    explained_by = ("divergence",)

    min_points: int = 20
    growth: float = 100.0
    sustained: float = 0.2

    def check(self, run: RunData) -> list[Finding]:
        series = run.get("grad_norm")
        raw_x, raw_y = series.steps, series.values
        bad = ~np.isfinite(raw_y)
        x, y = curves.reduce(*series.finite())
        if len(y) < self.min_points:
            return []
        early = curves.level(y, 0.1, end=False)
        if early <= 0:
            return []
        logs = curves.smooth(np.log10(np.maximum(y, 1e-30)), curves.window(len(y), 0.05))
        peak = int(np.argmax(logs))
        growth = 10 ** (logs[peak] - np.log10(early))
        after = y[len(y) // 10 :]
        high = float(np.mean(after > 10 * early)) if len(after) else 0.0
        if not bad.any() and (growth < self.growth or high < self.sustained):
            return []
        if bad.any():
            step = float(raw_x[int(np.argmax(bad))])
            summary = f"grad_norm became NaN/inf at {run.when(step)} (early level {curves.fmt(early)})."
            start = step
        else:
            start = float(x[int(np.argmax(y > 10 * early))])
            summary = (
                f"grad_norm grew {np.log10(growth):.1f} orders of magnitude above its early level "
                f"{curves.fmt(early)} (smoothed peak {curves.fmt(10 ** logs[peak])} at "
                f"{run.when(float(x[peak]))}); {high:.0%} of later steps are over 10× the early level."
            )
        values = {
            "early_level": early,
            "peak": float(10 ** logs[peak]),
            "growth": float(growth),
            "share_above_10x": high,
            "non_finite": bool(bad.any()),
        }
        marks = (
            {"kind": "hline", "value": early, "label": "early level"},
            {"kind": "span", "start": start, "end": float(raw_x[-1]), "label": "exploding"},
            {"kind": "point", "step": float(x[peak]), "value": float(10 ** logs[peak]), "label": "peak"},
        )
        fixes = [
            Fix(
                "Clip gradients (max norm 1)",
                "caps each update whatever the gradient",
                {"train.clip_grad": 1.0},
            ),
            Fix(
                "Lower the learning rate (×0.3)",
                "smaller steps keep the weights where gradients are sane",
                scaled_lr(run, 0.3),
            ),
            Fix(
                "Warm the learning rate up",
                "early large steps start the blow-up",
                {"sched.name": "warmup", "sched.warmup_steps": 100},
            ),
            Fix(
                "Add normalisation layers",
                "batch norm keeps activations and gradients in range",
                {"model.batch_norm": True},
            ),
        ]
        return [
            self.finding(
                summary,
                Evidence("grad_norm", int(start), int(raw_x[-1]), values, marks),
                fixes,
                severity="critical" if bad.any() else "warning",
            )
        ]
