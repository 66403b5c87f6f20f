"""A fast early drop followed by a rise or by noise: the steps are too large."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import ADAM_FAMILY, cfg, loss_trend, lr_of, scaled_lr, step_loss
from diagnostics.rules.loss_oscillation import swing
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import TRAIN_LOSSES

SMOOTH_SHARE = 0.15  # the trend: a smoothing window of about a seventh of the curve
SMOOTH_MIN = 3  # ...and at least 3 points, so one noisy value does not make the trend
OPENING_SHARE = 0.02  # the per-step loss's opening level: the median of its first 2 %
LR_CUT, LR_CUT_MILD = 0.1, 0.3  # the fixes: one order of magnitude lower, or half of one
DECAY_GAMMA = 0.9  # the fix's exponential decay: a tenth off per epoch
SWING_MIN_POINTS = 40  # a per-step curve shorter than this is too short to measure its swing on
SWING_FROM = 0.3  # the swing is measured after the first 30 % (the early descent is not a swing)
SWING_DIGITS = 3  # the swing ratio is reported to three decimals: enough to compare runs


@register
@dataclass(frozen=True)
class LrTooHigh(Rule):
    """What it detects:
    The training loss drops fast early (from its very first values, often within the
    first epoch), then its smoothed trend climbs back up for the rest of the run: the
    model gets worse at fitting its own training set the longer it trains. When the
    configured lr is in the suspect range (Adam-family above 1e-2, others above 1e-1:
    DeepDiagnosis' upper bound) a smaller rise is enough. A diverging loss explains it
    better; the oscillation and the early best validation such a run shows follow from it.

    Why it matters:
    Past the first descent the steps overshoot the valley floor: the model gets worse
    the longer it trains, and the final weights are worse than earlier ones.

    Suggested fix:
    Scale the learning rate by ×0.1 (or ×0.3); a learning-rate range test; decay or warm-up.

    Parameters:
    min_points: points of the loss curve needed before judging.
    min_early_drop: the early drop must be at least this share of the start.
    latest_low: the lowest smoothed loss must come within this share of the run.
    rise: rise of the smoothed loss above its minimum, as a share of the early drop.
    rise_with_lr: the same when the configured lr is in the suspect range.
    noise_k: the rise must also exceed this many robust standard deviations of the curve's noise,
      unless the training accuracy fell clearly from an early peak (a noisier loss, same trend).
    min_acc_fall: drop of the smoothed train accuracy from its early peak that counts as clear.
    adam_high: suspect lr level for Adam-family optimizers.
    sgd_high: suspect lr level for the others.

    References:
    Wardat et al., "DeepDiagnosis" (ICSE 2022), effective lr outside [1e-5, 1e-1];
    Smith, "A disciplined approach to neural network hyper-parameters" (2018).
    """

    id = "lr_too_high"
    order = 60
    title = "Learning rate too high"
    severity = "warning"
    requires = (TRAIN_LOSSES,)
    explained_by = ("divergence",)

    min_points: int = 8
    min_early_drop: float = 0.3
    latest_low: float = 0.7
    rise: float = 0.2
    rise_with_lr: float = 0.05
    noise_k: float = 2.0
    min_acc_fall: float = 0.05
    adam_high: float = 1e-2
    sgd_high: float = 1e-1

    def check(self, run: RunData) -> list[Finding]:
        name, x, y = loss_trend(run)
        n = len(y)
        if n < self.min_points:
            return []
        sy = curves.smooth(y, curves.window(n, SMOOTH_SHARE, lo=SMOOTH_MIN))
        # the fast drop often happens within the first epoch: the per-step loss saw where it began
        px, py = curves.reduce(*curves.finite(step_loss(run)))
        first = curves.level(py, OPENING_SHARE, end=False) if len(py) and px[0] <= x[0] else -np.inf
        start = max(float(sy[0]), float(y[0]), first)
        m = int(np.argmin(sy))
        low, end = float(sy[m]), float(sy[-1])
        if start <= 0 or m > self.latest_low * n:
            return []
        drop = start - low
        if drop < self.min_early_drop * start:
            return []
        lr = lr_of(run)
        high = self._suspect(run, lr)
        needed = (self.rise_with_lr if high else self.rise) * drop
        climbed = end - low
        acc_fall = self._acc_fall(run)
        # a noisy loss (a running mean of training batches) climbs within its noise; a training
        # accuracy that fell from its peak says the same trend more clearly
        if climbed < needed or (climbed < self.noise_k * curves.robust_noise(y, sy) and acc_fall is None):
            return []
        swung = self._swing(run)
        summary = (
            f"{name} dropped fast from {curves.fmt(start)} to {curves.fmt(low)} by "
            f"{run.when(float(x[m]))}, then climbed back to {curves.fmt(end)} "
            f"({climbed / drop:.0%} of the drop regained)" + (f" with lr {lr:g}" if lr else "")
            + (f"; train accuracy fell {acc_fall[0]:.2f} → {acc_fall[1]:.2f}" if acc_fall else "")
            + (f"; the per-step loss swings by {swung:.0%} of its scale meanwhile" if swung else "")
            + "."
        )
        values = {
            "start": start,
            "minimum": low,
            "minimum_step": float(x[m]),
            "end": end,
            "regained_share": climbed / drop,
            "lr": lr,
            "lr_in_suspect_range": high,
            "swing_ratio": swung,
            "train_acc_peak": acc_fall[0] if acc_fall else None,
            "train_acc_end": acc_fall[1] if acc_fall else None,
        }
        marks = (
            {"kind": "vline", "step": float(x[m]), "label": "lowest loss"},
            {"kind": "span", "start": float(x[m]), "end": float(x[-1]), "label": "loss climbing"},
        )
        fixes = [
            Fix(
                f"Lower the learning rate (×{LR_CUT:g})",
                "the loss fell and then rose: the steps overshoot",
                scaled_lr(run, LR_CUT),
            ),
            Fix(
                f"Or lower it less (×{LR_CUT_MILD:g})",
                f"a smaller cut if ×{LR_CUT:g} turns out to crawl",
                scaled_lr(run, LR_CUT_MILD),
            ),
            Fix("Run a learning-rate range test", "pick the lr where the loss falls fastest, not beyond"),
            Fix(
                "Decay the learning rate",
                "smaller steps late in training settle into the valley",
                {"sched.name": "exponential", "sched.gamma": DECAY_GAMMA},
            ),
        ]
        return [self.finding(summary, Evidence(name, int(x[m]), int(x[-1]), values, marks), fixes)]

    def _suspect(self, run: RunData, lr: float | None) -> bool:
        if lr is None:
            return False
        name = cfg(run, "optim.name")
        return lr > (self.adam_high if name in ADAM_FAMILY else self.sgd_high)

    def _acc_fall(self, run: RunData) -> tuple[float, float] | None:
        """(peak, end) of the smoothed train accuracy when it fell clearly after an early peak, else None."""
        x, acc = curves.reduce(*curves.finite(run.get("train/acc")))
        n = len(acc)
        if n < self.min_points:
            return None
        sa = curves.smooth(acc, curves.window(n, SMOOTH_SHARE, lo=SMOOTH_MIN))
        p = int(np.argmax(sa))
        peak, end = float(sa[p]), float(sa[-1])
        if p > self.latest_low * n or peak - end < max(self.min_acc_fall, self.noise_k * curves.robust_noise(acc, sa)):
            return None
        return peak, end

    @staticmethod
    def _swing(run: RunData) -> float | None:
        """How much the per-step loss swings around its trend (None when not logged per step)."""
        series = run.get("train/loss")
        if series is None or len(series) < SWING_MIN_POINTS:
            return None
        found = swing(*curves.reduce(*series.finite()), judge_from=SWING_FROM)
        return None if found is None else round(float(found[0]), SWING_DIGITS)
