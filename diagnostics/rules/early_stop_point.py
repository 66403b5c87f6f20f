"""Where validation was best, and how much training came after it for nothing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import VAL_CURVES, Monitor

SMOOTH_SHARE = 0.06  # light smoothing (6% of the run): the best moves less than under overfitting's 10%
END_SHARE, END_POINTS = 0.1, 2  # the end level: the median of the last tenth, at least two points
MIN_WASTED_POINTS = 2  # fewer evaluations after the best are no stretch to speak of
PATIENCE = 5  # the patience the fix proposes: a few evaluations past the best


@register
@dataclass(frozen=True)
class EarlyStopPoint(Rule):
    """What it detects:
    The evaluation at which the (smoothed) validation loss, or accuracy/AUC, was best, when
    a large share of the training came after it without beating it.

    Why it matters:
    The epochs after the best are wasted compute, and the final weights are worse than
    the best ones unless they were restored.

    Suggested fix:
    Stop there next time: early stopping with a patience of a few evaluations and
    restore the best weights.

    Says nothing when early stopping (config ``early_stopping.patience``) already ended the
    run within its patience of the best, nor when the run diverged or its lr is too high
    (stopping earlier is then not the cure).

    Parameters:
    min_points: evaluations needed before judging.
    min_wasted: share of the evaluations after the best needed to report it.
    min_worse: relative (loss) or absolute (accuracy/AUC) gap between the best and the end.
    noise_k: the gap must also exceed this many robust standard deviations of the noise.

    References:
    Prechelt, "Early Stopping - But When?" (1998); Keras EarlyStopping; Lightning EarlyStopping.
    """

    id = "early_stop_point"
    order = 150
    title = "Best validation was reached early"
    severity = "info"
    requires = (VAL_CURVES,)
    explained_by = ("divergence", "lr_too_high")

    min_points: int = 8
    min_wasted: float = 0.25
    min_worse: float = 0.02
    noise_k: float = 2.0

    def check(self, run: RunData) -> list[Finding]:
        name = next(n for n in VAL_CURVES if run.get(n) is not None)
        sign = Monitor(name).signed(-1.0)  # a curve to minimise: the loss as it is, a score negated
        x, y = curves.reduce(*run.get(name).finite())
        n = len(y)
        if n < self.min_points:
            return []
        sy = curves.smooth(sign * y, curves.window(n, SMOOTH_SHARE))
        b = int(np.argmin(sy))
        wasted = n - 1 - b
        if wasted < max(MIN_WASTED_POINTS, self.min_wasted * n) or self._stopped_by_patience(run, wasted):
            return []
        end = curves.level(sign * y, END_SHARE, end=True, min_n=END_POINTS)
        gap = end - sy[b]
        needed = self.min_worse * abs(sy[b]) if sign > 0 else self.min_worse
        if gap <= 0 or gap < max(needed, self.noise_k * curves.robust_noise(sign * y, sy)):
            return []
        b = curves.refine_min(sign * y, b, curves.window(n, SMOOTH_SHARE))
        wasted = n - 1 - b
        best_step, last = float(x[b]), float(x[-1])
        summary = (
            f"{name} was best ({curves.fmt(y[b])}) at {run.when(best_step)}; the {wasted} "
            f"evaluations after it ({wasted / n:.0%} of training) did not beat it "
            f"(final {curves.fmt(sign * end)})."
        )
        values = {
            "best_step": best_step,
            "best_epoch": run.epoch_at(best_step),
            "best_value": float(sign * sy[b]),
            "final_value": float(sign * end),
            "evaluations_after_best": wasted,
            "wasted_share": wasted / n,
        }
        marks = (
            {"kind": "vline", "step": best_step, "label": f"stop here ({run.when(best_step)})"},
            {"kind": "span", "start": best_step, "end": last, "label": "no improvement"},
        )
        fixes = [
            Fix(
                f"Stop at {run.when(best_step)} next time (early stopping, restore best weights)",
                f"{wasted} evaluations after the best did not improve {name}",
                {"early_stopping.patience": PATIENCE, "early_stopping.monitor": name},
            )
        ]
        return [
            self.finding(
                summary,
                Evidence(name, int(best_step), int(last), values, marks),
                fixes,
                title=f"Best {name} at {run.when(best_step)}",
            )
        ]

    @staticmethod
    def _stopped_by_patience(run: RunData, wasted: int) -> bool:
        """Early stopping already ended the run a patience after the best: the advice is applied."""
        patience = int(run.config.get("early_stopping.patience") or 0)
        return patience > 0 and wasted <= patience + 1
