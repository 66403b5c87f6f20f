"""A loss that stalled for a long stretch after an initial drop, at a level well above zero."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import cfg, loss_trend, step_loss
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import TRAIN_LOSSES

SMOOTH_SHARE = 0.1  # smoothing window and end level: a tenth of the curve
OPENING_SHARE = 0.02  # the loss's opening level: the median of its first 2 %
LR_CUT_WITHIN = 4  # an lr cut counts when it came within the first quarter of the flat stretch
LR_RELATIVE_EPS, LR_TINY = 1e-12, 1e-30  # an lr that moved by less than this share of its size did not move
PLATEAU_PATIENCE = 3  # ReduceLROnPlateau's patience in the fix: a few evaluations
PLATEAU_FACTOR = 0.5  # ReduceLROnPlateau's factor in the fix: halve the lr at each stall

@register
@dataclass(frozen=True)
class Plateau(Rule):
    """What it detects:
    After a real initial drop the smoothed training loss stops improving for the final
    long stretch of the run, at a level that is still a large share of where it started.
    A loss that has nearly reached zero, or a model whose accuracy is already high, is
    converged, not stalled. Two kinds: the learning rate collapsed (logged ``lr``, or the
    configured step/exponential schedule, at least ``lr_cut``× below its peak where the
    loss went flat: the schedule decayed before the loss had converged; a warning, and the
    stall explains the underfitting it leaves behind; on an imported log without its config
    a hint, which does not overrule an underfitting verdict), or the lr stayed constant (an
    ``info``: decay on plateau may help; underfitting explains it better when it fires).

    Why it matters:
    The optimizer is stuck in a flat region, or its steps were shrunk to nothing before
    it got anywhere: more epochs at this learning rate buy nothing.

    Suggested fix:
    When the schedule cut the lr too early: no early decay, or decay only when the loss
    stalls (ReduceLROnPlateau), or warm restarts (SGDR). At a constant lr: learning-rate
    decay on plateau; warm restarts; switch from Adam to SGD late in training (SWATS).

    On imported logs without the run's config (the lr unknown for lr_too_low) the finding is
    reported at info: without the schedule the rule cannot tell a deliberate choice from a
    mistake. On the real-log corpus this turned 1 healthy file(s) from a false alarm into a hint.

    Parameters:
    min_points: points of the loss curve needed before judging.
    min_drop: at a constant lr, the initial drop must be at least this share of the start.
    noise_k: the initial drop must exceed this many robust standard deviations of the curve's noise.
    flat_tol: change within the flat stretch, as a share of the initial drop, still called flat.
    min_flat: share of the run the final flat stretch must cover.
    min_level: the flat level must be at least this share of the start (stalled high).
    converged_acc: a final train (or val) accuracy at or above this is converged, not stalled.
    lr_cut: the lr at the flat onset this many times below its peak counts as collapsed.

    References:
    PyTorch ReduceLROnPlateau; Loshchilov & Hutter, "SGDR" (2017); Keskar & Socher,
    "Improving Generalization Performance by Switching from Adam to SGD" (2017).
    """

    id = "plateau"
    order = 130
    title = "Loss plateau"
    severity = "info"
    requires = (TRAIN_LOSSES,)
    explained_by = ("underfitting", "divergence", "lr_too_high", "vanishing_gradients", "loss_oscillation")

    min_points: int = 10
    min_drop: float = 0.05
    noise_k: float = 3.0
    flat_tol: float = 0.05
    min_flat: float = 0.4
    min_level: float = 0.3
    converged_acc: float = 0.9
    lr_cut: float = 10.0

    def check(self, run: RunData) -> list[Finding]:
        name, x, y = loss_trend(run)
        n = len(y)
        if n < self.min_points:
            return []
        sy = curves.smooth(y, curves.window(n, SMOOTH_SHARE))
        px, py = curves.reduce(*curves.finite(step_loss(run)))
        first = curves.level(py, OPENING_SHARE, end=False) if len(py) and px[0] <= x[0] else -np.inf
        start = max(float(sy[0]), float(y[0]), first)
        end = float(sy[-1])
        drop = start - float(sy.min())
        noise = curves.robust_noise(y, sy)
        if start <= 0 or drop <= self.noise_k * noise or end < self.min_level * start:
            return []
        tol = max(self.flat_tol * drop, 2 * noise)
        outside = np.flatnonzero(np.abs(sy - end) > tol)
        flat_from = int(outside[-1]) + 1 if len(outside) else 0
        if n - flat_from < self.min_flat * n or self._converged(run):
            return []
        x0, x1 = float(x[flat_from]), float(x[-1])
        # the loss goes flat as the lr collapses: judge the lr a quarter into the flat stretch
        cut = self._lr_cut(run, name, x, flat_from + (n - flat_from) // LR_CUT_WITHIN)
        if cut is None:
            return []  # the lr changes over the stretch without collapsing: a schedule is already at work
        collapsed = cut[0] >= self.lr_cut
        # a collapsed lr explains even a small first drop; at a constant lr the drop must be real
        if not collapsed and drop < self.min_drop * start:
            return []
        summary = (
            f"{name} has been flat at {curves.fmt(end)} (within ±{curves.fmt(tol)}) since "
            f"{run.when(x0)}, {(n - flat_from) / n:.0%} of the run, after dropping from {curves.fmt(start)}"
        )
        if collapsed:
            summary += (
                f"; by then the {cut[1]} had fallen {cut[0]:.3g}× below its peak: the schedule cut the "
                "learning rate before the loss had converged."
            )
        else:
            summary += "."
        values = {
            "level": end,
            "start": start,
            "flat_from_step": x0,
            "flat_share": (n - flat_from) / n,
            "lr_fall": cut[0],
            "lr_source": cut[1],
        }
        marks = (
            {"kind": "span", "start": x0, "end": x1, "label": "plateau"},
            {"kind": "hline", "value": end, "label": "plateau level"},
        )
        evidence = Evidence(name, int(x0), int(x1), values, marks)
        if collapsed:
            # without the config a logged lr cut may be the schedule the author chose: a hint, and a hint
            # does not explain away the underfitting verdict (the training set is still not fitted): when
            # that fires, it explains this hint, as at a constant lr
            verdict = bool(run.config)
            return [
                self.finding(
                    summary,
                    evidence,
                    self._decay_fixes(),
                    severity="warning" if verdict else "info",
                    title="Loss plateau: the lr was cut too early",
                    explains=("underfitting",) if verdict else (),
                )
            ]
        return [self.finding(summary, evidence, self._constant_fixes(run))]

    def _converged(self, run: RunData) -> bool:
        for name in ("train/acc", "val/acc"):
            _, acc = curves.finite(run.get(name))
            if len(acc) and curves.level(acc, SMOOTH_SHARE, end=True) >= self.converged_acc:
                return True
        return False

    def _lr_cut(self, run: RunData, name: str, x: np.ndarray, at: int) -> tuple[float, str] | None:
        """How far the lr had fallen below its peak by point ``at`` of the stall, and where that is known from.

        (1.0, ...) for a constant lr; None when it still changes over the stretch without having collapsed.
        """
        lx, lr = curves.finite(run.get("lr"))
        if len(lr) > 1:
            before = lr[lx <= x[at]]
            peak = float(before.max()) if len(before) else float(lr[0])
            now = float(np.interp(x[at], lx, lr))
            fall = peak / now if now > 0 else np.inf
            late = lr[lx >= x[at]]
            if fall < self.lr_cut and len(late) and np.ptp(late) > LR_RELATIVE_EPS * max(abs(lr).max(), LR_TINY):
                return None
            return float(fall), "logged lr"
        # no lr curve: the runner's per-evaluation decay schedules from the config, on an epoch-level curve
        sched, gamma = cfg(run, "sched.name", "none"), float(cfg(run, "sched.gamma", 1.0))
        if name == "train/loss" or sched not in ("step", "exponential") or not 0 < gamma < 1:
            return (1.0, "lr") if sched == "none" else None
        cuts = at // max(int(cfg(run, "sched.step_size", 1)), 1) if sched == "step" else at
        fall = gamma ** -cuts
        return (float(fall), f"{sched} schedule's lr") if fall >= self.lr_cut else None

    def _decay_fixes(self) -> list[Fix]:
        return [
            Fix(
                "Decay only when the loss stalls (ReduceLROnPlateau)",
                "the lr shrank on a timetable while the loss was still far from converged",
                {"sched.name": "plateau", "sched.factor": PLATEAU_FACTOR, "sched.patience": PLATEAU_PATIENCE},
            ),
            Fix(
                "Drop the early decay",
                "with a constant lr the loss keeps falling past this level",
                {"sched.name": "none"},
            ),
            Fix(
                "Use warm restarts (SGDR / cosine)",
                "the lr comes back up and the loss can leave the flat region",
                {"sched.name": "cosine"},
            ),
        ]

    def _constant_fixes(self, run: RunData) -> list[Fix]:
        return [
            Fix(
                "Reduce the learning rate on plateau",
                "a smaller step can descend into the narrow valley",
                {"sched.name": "plateau", "sched.factor": PLATEAU_FACTOR, "sched.patience": PLATEAU_PATIENCE}
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
