"""A fast early drop followed by a rise or by noise: the steps are too large."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import ADAM_FAMILY, cfg, epoch_loss, lr_of, scaled_lr, step_loss
from diagnostics.rundata import RunData


@register
@dataclass(frozen=True)
class LrTooHigh(Rule):
    """What it detects:
    The training loss drops fast early, then its smoothed trend climbs back up for the
    rest of the run. When the configured lr is in the suspect range (Adam-family above
    1e-2, others above 1e-1: DeepDiagnosis' upper bound) a smaller rise is enough.
    Divergence and oscillation explain it better when they fire.

    Why it matters:
    Past the first descent the steps overshoot the valley floor: the model gets worse
    the longer it trains, and the final weights are worse than earlier ones.

    Suggested fix:
    Scale the learning rate by ×0.1; a learning-rate range test; decay or warm-up.

    Parameters:
    min_points: points of the loss curve needed before judging.
    min_early_drop: the early drop must be at least this share of the start.
    rise: rise of the smoothed loss above its minimum, as a share of the early drop.
    rise_with_lr: the same when the configured lr is in the suspect range.
    adam_high: suspect lr level for Adam-family optimizers.
    sgd_high: suspect lr level for the others.

    References:
    Wardat et al., "DeepDiagnosis" (ICSE 2022), effective lr outside [1e-5, 1e-1];
    Smith, "A disciplined approach to neural network hyper-parameters" (2018).
    """

    id = "lr_too_high"
    title = "Learning rate too high"
    severity = "warning"
    requires = (("train/loss", "train/loss_epoch", "train/loss_eval"),)
    explained_by = ("divergence", "loss_oscillation")

    min_points: int = 8
    min_early_drop: float = 0.3
    rise: float = 0.2
    rise_with_lr: float = 0.05
    adam_high: float = 1e-2
    sgd_high: float = 1e-1

    def check(self, run: RunData) -> list[Finding]:
        series = epoch_loss(run) or step_loss(run)
        x, y = curves.reduce(*series.finite())
        n = len(y)
        if n < self.min_points:
            return []
        sy = curves.smooth(y, curves.window(n, 0.15, lo=3))
        start = max(float(sy[0]), float(y[0]))
        m = int(np.argmin(sy))
        low, end = float(sy[m]), float(sy[-1])
        if start <= 0 or m > 0.7 * n:
            return []
        drop = start - low
        if drop < self.min_early_drop * start:
            return []
        lr = lr_of(run)
        high = self._suspect(run, lr)
        needed = (self.rise_with_lr if high else self.rise) * drop
        climbed = end - low
        if climbed < max(needed, 2 * curves.robust_noise(y, sy)):
            return []
        summary = (
            f"{series.name} dropped fast from {curves.fmt(start)} to {curves.fmt(low)} by "
            f"{run.when(float(x[m]))}, then climbed back to {curves.fmt(end)} "
            f"({climbed / drop:.0%} of the drop regained)" + (f" with lr {lr:g}" if lr else "") + "."
        )
        values = {
            "start": start,
            "minimum": low,
            "minimum_step": float(x[m]),
            "end": end,
            "regained_share": climbed / drop,
            "lr": lr,
            "lr_in_suspect_range": high,
        }
        marks = (
            {"kind": "vline", "step": float(x[m]), "label": "lowest loss"},
            {"kind": "span", "start": float(x[m]), "end": float(x[-1]), "label": "loss climbing"},
        )
        fixes = [
            Fix(
                "Lower the learning rate (×0.1)",
                "the loss fell and then rose: the steps overshoot",
                scaled_lr(run, 0.1),
            ),
            Fix("Run a learning-rate range test", "pick the lr where the loss falls fastest, not beyond"),
            Fix(
                "Decay the learning rate",
                "smaller steps late in training settle into the valley",
                {"sched.name": "exponential", "sched.gamma": 0.9},
            ),
        ]
        return [self.finding(summary, Evidence(series.name, int(x[m]), int(x[-1]), values, marks), fixes)]

    def _suspect(self, run: RunData, lr: float | None) -> bool:
        if lr is None:
            return False
        name = cfg(run, "optim.name")
        return lr > (self.adam_high if name in ADAM_FAMILY else self.sgd_high)
