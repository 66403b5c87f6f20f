"""A loss spike in the first steps with a large learning rate and no warm-up."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import ADAM_FAMILY, cfg, lr_of
from diagnostics.rundata import RunData

EARLY_MIN_STEPS = 10  # "the first steps" are never fewer than this, however short the run
LATER_FROM = 2  # the later loss starts twice the early window in: the spike has recovered by then
LATER_MIN_POINTS = 3  # a later stretch shorter than this has no level to compare with
LATER_QUANTILE = 0.99  # the later loss's top (its outliers aside) that the spike must stand out from
WARMUP_PER_EARLY = 2  # when the loss never settles for good, the warm-up spans twice the early window...
WARMUP_MIN, WARMUP_MAX = 50, 1_000_000  # ...within sane bounds for a step count
# the spike has settled at the first step after it from which the loss stays below its first value for this
# many points in a row: one dip between two spikes is not the end of them
SETTLE_POINTS = 3
SETTLED_MIN = EARLY_MIN_STEPS  # a warm-up shorter than "the first steps" is no warm-up
RAMP = 1.5  # an lr 50 % above its first value by the end of the early window is a warm-up


@register
@dataclass(frozen=True)
class MissingWarmup(Rule):
    """What it detects:
    In the first few percent of the steps the per-iteration training loss jumps well
    above its first value, then recovers, and the spike is the largest of the run; the
    lr does not ramp up (no warm-up in the config or in the logged lr) and it is large
    (Adam-family from 1e-3, others from 5e-2) when the config says which.

    Why it matters:
    Adam's second-moment estimate is unreliable over the first steps and a fresh net's
    gradients are large: full-size steps there can throw the weights into a bad region
    (or into NaN) before training has begun.

    Suggested fix:
    A linear warm-up as long as the spike took to settle (the first step after it from which the
    loss stays below its first value), launched as ``sched.name=warmup`` with that
    ``sched.warmup_steps``; or the Noam schedule
    lr = factor · d^-0.5 · min(step^-0.5, step · warmup^-1.5) with the same warm-up.

    On imported logs without the run's config (the lr unknown for lr_too_low) the finding is
    reported at info: without the schedule the rule cannot tell a deliberate choice from a
    mistake. On the real-log corpus this turned 1 healthy file(s) from a false alarm into a hint.

    Parameters:
    min_steps: per-iteration points needed before judging.
    early: share of the steps (at least 10) that count as "the first steps".
    spike: the early maximum over the first value that counts as a spike.
    stand_out: the spike over the 99th percentile of the later loss (it must be the outlier of the run).
    adam_lr: lr from which warm-up is advisable for Adam-family optimizers.
    sgd_lr: the same for the others.

    References:
    Vaswani et al., "Attention Is All You Need" (2017), the Noam schedule; Liu et al.,
    "On the Variance of the Adaptive Learning Rate and Beyond" (RAdam, 2020); Goyal et al. (2017).
    """

    id = "missing_warmup"
    order = 70
    title = "Early loss spike: warm-up missing"
    severity = "warning"
    requires = (("train/loss",),)
    explained_by = ("divergence", "loss_oscillation")

    min_steps: int = 50
    early: float = 0.05
    spike: float = 2.0
    stand_out: float = 1.5
    adam_lr: float = 1e-3
    sgd_lr: float = 5e-2

    def check(self, run: RunData) -> list[Finding]:
        x, y = run.get("train/loss").finite()
        n = len(y)
        if n < self.min_steps or y[0] <= 0:
            return []
        e = max(EARLY_MIN_STEPS, int(n * self.early))
        peak = int(np.argmax(y[1:e])) + 1
        ratio = y[peak] / y[0]
        if ratio < self.spike:
            return []
        later = y[LATER_FROM * e :]
        if (
            len(later) < LATER_MIN_POINTS
            or np.median(later) >= y[0]
            or y[peak] < self.stand_out * np.quantile(later, LATER_QUANTILE)
        ):
            return []
        if self._warmed_up(run, x, e) or not self._large_lr(run):
            return []
        settled = _settled(x, y, peak)
        warm = int(min(max(settled, SETTLED_MIN), WARMUP_MAX)) if settled is not None else int(
            min(max(WARMUP_PER_EARLY * e, WARMUP_MIN), WARMUP_MAX))
        summary = (
            f"train/loss jumped from {curves.fmt(y[0])} to {curves.fmt(y[peak])} ({ratio:.1f}×) at "
            f"{run.when(float(x[peak]))}, within the first {e} steps, with no lr warm-up"
            + (f" (lr {lr_of(run):g})" if lr_of(run) else "")
            + (f"; it settled by step {settled}: a linear warm-up over {warm} steps covers it."
               if settled is not None else "; it recovered afterwards.")
        )
        values = {
            "first_value": float(y[0]),
            "spike_value": float(y[peak]),
            "spike_step": float(x[peak]),
            "ratio": float(ratio),
            "early_steps": e,
            "lr": lr_of(run),
            "settle_step": settled,
            "warmup_steps": warm,
        }
        marks = (
            {"kind": "point", "step": float(x[peak]), "value": float(y[peak]), "label": "early spike"},
            {"kind": "span", "start": float(x[0]), "end": float(x[e - 1]), "label": "first steps"},
        )
        fixes = [
            Fix(
                f"Warm the learning rate up linearly over {warm} steps",
                (f"the spike settled by step {settled}: " if settled is not None else "")
                + "small steps while Adam's moment estimates settle avoid the early blow-up",
                {"sched.name": "warmup", "sched.warmup_steps": warm},
            ),
            Fix(
                "Or use the Noam schedule (factor·d^-0.5·min(step^-0.5, step·warmup^-1.5))",
                "warm-up then inverse-square-root decay, the transformer default",
                {"sched.name": "noam", "sched.warmup_steps": warm},
            ),
        ]
        # an imported log without its config cannot show whether a warm-up ran: a hint only
        severity = "info" if not run.config else None
        if severity:
            summary += " The run's schedule is not in the log, so this is a hint, not a verdict."
        return [self.finding(summary, Evidence("train/loss", int(x[0]), int(x[e - 1]), values, marks), fixes,
                             severity=severity)]

    def _warmed_up(self, run: RunData, x: np.ndarray, e: int) -> bool:
        if cfg(run, "sched.name") in ("warmup", "noam"):
            return True
        lr_x, lr = curves.finite(run.get("lr"))
        if len(lr) < 2:
            return False
        early_lr = np.interp(x[min(e, len(x) - 1)], lr_x, lr)
        return bool(early_lr > RAMP * lr[0])

    def _large_lr(self, run: RunData) -> bool:
        lr, name = lr_of(run), cfg(run, "optim.name")
        if lr is None or name is None:
            return True
        return lr >= (self.adam_lr if name in ADAM_FAMILY else self.sgd_lr)


def _settled(x: np.ndarray, y: np.ndarray, peak: int) -> int | None:
    """The step after the spike from which the loss stays below its first value ``SETTLE_POINTS`` points in a
    row (the rule's evidence of recovery), as a step count from the run's first step; None if it never does."""
    below = y[peak + 1:] < y[0]
    run = 0
    for i, ok in enumerate(below):
        run = run + 1 if ok else 0
        if run == SETTLE_POINTS:
            first = peak + 1 + i - (SETTLE_POINTS - 1)
            return int(np.ceil(x[first] - x[0])) + 1
    return None
