"""A loss that stalled for a long stretch after an initial drop, at a level well above zero."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import cfg, epoch_loss, step_loss
from diagnostics.rundata import RunData


@register
@dataclass(frozen=True)
class Plateau(Rule):
    """What it detects:
    After a real initial drop the smoothed training loss stops improving for the final
    long stretch of the run, at a level that is still a large share of where it started
    (a loss that has nearly reached zero is converged, not stalled). The learning rate
    stays constant over the stretch (when logged).

    Why it matters:
    The optimizer is stuck in a flat region or bouncing at a fixed step size: more
    epochs at this learning rate buy nothing.

    Suggested fix:
    Learning-rate decay on plateau (ReduceLROnPlateau); warm restarts (SGDR); switch
    from Adam to SGD late in training (SWATS).

    Parameters:
    min_points: points of the loss curve needed before judging.
    min_drop: the initial drop must be at least this share of the start.
    flat_tol: change within the flat stretch, as a share of the initial drop, still called flat.
    min_flat: share of the run the final flat stretch must cover.
    min_level: the flat level must be at least this share of the start (stalled high).

    References:
    PyTorch ReduceLROnPlateau; Loshchilov & Hutter, "SGDR" (2017); Keskar & Socher,
    "Improving Generalization Performance by Switching from Adam to SGD" (2017).
    """

    id = "plateau"
    title = "Loss plateau"
    severity = "info"
    requires = (("train/loss", "train/loss_epoch", "train/loss_eval"),)
    explained_by = ("underfitting", "divergence", "lr_too_high", "vanishing_gradients", "loss_oscillation")

    min_points: int = 10
    min_drop: float = 0.2
    flat_tol: float = 0.03
    min_flat: float = 0.4
    min_level: float = 0.3

    def check(self, run: RunData) -> list[Finding]:
        series = epoch_loss(run) or step_loss(run)
        x, y = curves.reduce(*series.finite())
        n = len(y)
        if n < self.min_points:
            return []
        sy = curves.smooth(y, curves.window(n, 0.1))
        first = step_loss(run)
        start = max(float(sy[0]), float(y[0]), float(first.finite()[1][0]) if len(first.finite()[1]) else 0.0)
        end = float(sy[-1])
        drop = start - float(sy.min())
        if start <= 0 or drop < self.min_drop * start or end < self.min_level * start:
            return []
        tol = self.flat_tol * drop
        outside = np.flatnonzero(np.abs(sy - end) > tol)
        flat_from = int(outside[-1]) + 1 if len(outside) else 0
        if n - flat_from < self.min_flat * n:
            return []
        _, lr = curves.finite(run.get("lr"))
        if len(lr) > 1 and np.ptp(lr[len(lr) * flat_from // n :]) > 1e-12 * max(abs(lr).max(), 1e-30):
            return []  # the lr already changes over the stretch
        x0, x1 = float(x[flat_from]), float(x[-1])
        summary = (
            f"{series.name} has been flat at {curves.fmt(end)} (within ±{curves.fmt(tol)}) since "
            f"{run.when(x0)}, {(n - flat_from) / n:.0%} of the run, after dropping from {curves.fmt(start)}."
        )
        values = {"level": end, "start": start, "flat_from_step": x0, "flat_share": (n - flat_from) / n}
        marks = (
            {"kind": "span", "start": x0, "end": x1, "label": "plateau"},
            {"kind": "hline", "value": end, "label": "plateau level"},
        )
        fixes = [
            Fix(
                "Reduce the learning rate on plateau",
                "a smaller step can descend into the narrow valley",
                {"sched.name": "plateau", "sched.factor": 0.5, "sched.patience": 3}
                if cfg(run, "sched.name", "none") == "none"
                else None,
            ),
            Fix(
                "Use warm restarts (SGDR / cosine)",
                "a periodic lr kick can leave a flat region",
                {"sched.name": "cosine"},
            ),
            Fix(
                "Switch from Adam to SGD late in training (SWATS)", "SGD often settles lower once Adam stalls"
            ),
        ]
        return [self.finding(summary, Evidence(series.name, int(x0), int(x1), values, marks), fixes)]
