"""A slow, nearly straight decrease of the loss: the steps are too small."""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import loss_trend, lr_of, scaled_lr, starts_mid_run
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import TRAIN_LOSSES

SMOOTH_SHARE = 0.1  # the trend: smoothed over a tenth of the run
NOISE_K = 3.0  # the fall must exceed three robust standard deviations of the noise: a real fall
THIRDS = 3  # the first and last third of the run are compared: the start's slope against the end's
MIN_THIRD = 3  # each third of the run that the slopes compare has at least three points
LR_UP, LR_UP_SMALL = 10.0, 3.0  # the fixes: a decade up, or half a decade if that proves unstable


@register
@dataclass(frozen=True)
class LrTooLow(Rule):
    """What it detects:
    The training loss falls slowly and nearly linearly over the whole run: still going
    down at the end as fast as at the start (no sign of converging), yet only a small
    share of its starting value lost. An lr below 1e-5 strengthens the verdict. When the
    loss is unfitted by its numbers, ``underfitting`` fires beside this finding, which names
    the cause.

    Why it matters:
    Training spends its budget crawling; it would reach the same loss in a fraction of
    the steps (or a much better one in the same steps) with a larger learning rate.

    Suggested fix:
    Scale the learning rate up ×3-10; run a learning-rate range test.

    On imported logs without the run's config (the lr unknown for lr_too_low) the finding is
    reported at info: without the schedule the rule cannot tell a deliberate choice from a
    mistake. On the real-log corpus this turned 1 healthy file(s) from a false alarm into a hint.

    Parameters:
    min_points: points of the loss curve needed before judging.
    max_drop: the loss must have lost less than this share of its start ("slow").
    min_drop: ... and more than this share (it does move).
    min_r2: straightness of the smoothed curve (share of variance a line explains).
    min_slope_ratio: slope over the last third over slope over the first third (no convergence).
    low_lr: an lr below this is suspect on its own (DeepDiagnosis' lower bound 1e-5).

    References:
    Smith, "Cyclical Learning Rates for Training Neural Networks" (2017), the LR range test;
    Wardat et al., "DeepDiagnosis" (ICSE 2022), effective lr outside [1e-5, 1e-1].
    """

    id = "lr_too_low"
    order = 90
    title = "Learning rate too low"
    severity = "warning"
    requires = (TRAIN_LOSSES,)
    explained_by = ("epsilon_sensitivity",)

    min_points: int = 8
    max_drop: float = 0.3
    min_drop: float = 0.01
    min_r2: float = 0.9
    min_slope_ratio: float = 0.5
    low_lr: float = 1e-5

    def check(self, run: RunData) -> list[Finding]:
        name, x, y = loss_trend(run)
        n = len(y)
        if n < self.min_points:
            return []
        sy = curves.smooth(y, curves.window(n, SMOOTH_SHARE))
        start, end = float(sy[0]), float(sy[-1])
        if start <= 0:
            return []
        drop = (start - end) / start
        if not self.min_drop <= drop < self.max_drop or start - end < NOISE_K * curves.robust_noise(y, sy):
            return []
        third = max(MIN_THIRD, n // THIRDS)
        first, last = curves.slope(x[:third], sy[:third]), curves.slope(x[-third:], sy[-third:])
        if first >= 0 or last >= 0 or last / first < self.min_slope_ratio:
            return []
        r2 = curves.r_squared(x, sy)
        if r2 < self.min_r2:
            return []
        lr = lr_of(run)
        lr_text = f" with lr {lr:g}" + (f" (below {self.low_lr:g})" if lr < self.low_lr else "") if lr else ""
        summary = (
            f"{name} falls slowly and in a straight line{lr_text}: {curves.fmt(start)} → "
            f"{curves.fmt(end)} ({drop:.0%}) by {run.when(float(x[-1]))}, still falling as fast at the end "
            f"as at the start (slope ratio {last / first:.2f}, R² {r2:.2f})."
        )
        values = {
            "start": start,
            "end": end,
            "relative_drop": drop,
            "slope_first_third": first,
            "slope_last_third": last,
            "r2": r2,
            "lr": lr,
        }
        marks = (
            {"kind": "span", "start": float(x[0]), "end": float(x[-1]), "label": "slow linear decrease"},
        )
        fixes = [
            Fix(
                "Raise the learning rate (×10)",
                "the loss is still falling at the same rate: steps are too small",
                scaled_lr(run, LR_UP),
            ),
            Fix(
                "Raise the learning rate (×3)",
                "a smaller jump if ×10 turns out unstable",
                scaled_lr(run, LR_UP_SMALL),
            ),
            Fix(
                "Run a learning-rate range test", "sweep lr over a few decades and take the steepest descent"
            ),
        ]
        # no lr in the log or its config: a straight-line fall may be a short run by design; a hint only
        severity = None
        series = run.get(name)
        if lr is None:
            severity = "info"
            summary += " The learning rate is not in the log, so this is a hint, not a verdict."
        elif series is not None and starts_mid_run(series):
            # a capture of a resumed run misses the fast early fall: late in training a slow straight fall is usual
            severity = "info"
            summary += (f" The log starts at epoch {series.epochs[0]:g}: the training before it is not in it, so "
                        "this is a hint, not a verdict.")
        return [self.finding(summary, Evidence(name, int(x[0]), int(x[-1]), values, marks), fixes,
                             severity=severity)]
