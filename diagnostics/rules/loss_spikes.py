"""Sudden jumps of the per-step training loss far above its running level (and grad-norm spikes before them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import appended_segments, nice, scaled_lr
from diagnostics.rules._spikes import Spikes, find_spikes
from diagnostics.rundata import RunData, Series
from traindoc.core.vocabulary import role

STEP_LOSS = "train/loss"
EPOCH_LOSSES = ("train/loss_epoch", "train/loss_eval")  # judged only when no per-step loss is logged
LR_FACTOR = 0.3  # a gentler cut than divergence's ×0.1: the run still learns between its spikes


@register
@dataclass(frozen=True)
class LossSpikes(Rule):
    """What it detects:
    Sudden jumps of the training loss far above its running level: each logged value is
    compared, in log space, with the median of the values before it, and a point whose
    residual is many robust standard deviations (the median absolute deviation of all
    residuals) above that level, and a clear multiple of it, is a spike. Reported: how
    many, the worst (step, value, ratio to the running level) and a gradient-clipping
    value. When ``grad_norm`` is logged, its spikes are found the same way: those at or
    just before a loss spike are its early warning; grad-norm spikes without any loss
    spike, while the loss is still finite, are reported as info (the warning before the
    loss is hit).

    Who owns what: this rule owns the count and shape of the spikes at any height. Spikes
    of several orders of magnitude (the loss overflowing to 1e9 on many steps while the
    epoch means merely look high) are also ``divergence`` (its label: a loss blowing up by
    10x or more); a loss that goes NaN/inf is ``divergence`` alone; a spike in the very
    first steps of an un-warmed Adam run is ``missing_warmup``'s; growing gradient norms
    without loss spikes are ``exploding_gradients``'.

    Why it matters:
    A spike is one step that threw the weights far from where they were: the loss needs
    many steps to come back, the epoch means hide it, and repeated spikes end in NaN.
    Their usual causes are a gradient far larger than usual (an outlier batch, a too-high
    learning rate at a sharp region) or a numerically unstable loss.

    Suggested fix:
    Clip the global gradient norm (a value a little above its usual level, from the
    logged ``grad_norm`` when there is one, else 1.0); lower the learning rate or warm it
    up; look at the batches of the spike steps (bad samples, labels out of range); use
    numerically stable losses (log-softmax, BCEWithLogitsLoss).

    Parameters:
    window: logged points before each point whose median is its running level.
    history: points of history needed before a point can be judged a spike.
    z_min: robust z-score (residual over the MAD-based standard deviation of the log-loss
      residuals) above which a point is a spike candidate.
    ratio_min: a spike must also be this many times its running level: a x2-3 jump on a
      hard batch is ordinary minibatch noise, not a spike.
    min_points: finite points needed to judge a loss (the spread needs them).
    min_spikes: spikes needed for a finding (one outlier can be a single bad batch).
    clip_factor: the suggested clipping value is the median logged gradient norm times
      this: ordinary steps keep their size, spikes are cut.
    default_clip: the suggested clipping value when no gradient norm is logged.
    lead: a grad-norm spike at most this many logged gradient points before a loss spike
      (or at its step) is its early warning.

    References:
    Iglewicz & Hoaglin, "How to Detect and Handle Outliers" (1993), the modified z-score
    on the median absolute deviation; Pascanu et al., "On the difficulty of training
    recurrent neural networks" (2013), gradient clipping; Chowdhery et al., "PaLM" (2022),
    sect. 5.1, loss spikes during training.
    """

    id = "loss_spikes"
    order = 35
    title = "Loss spikes"
    severity = "warning"
    requires = ((STEP_LOSS, *EPOCH_LOSSES, "grad_norm"),)

    window: int = 25
    history: int = 5
    z_min: float = 6.0
    ratio_min: float = 3.0
    min_points: int = 30
    min_spikes: int = 2
    clip_factor: float = 2.0
    default_clip: float = 1.0
    lead: int = 3

    def check(self, run: RunData) -> list[Finding]:
        grad = self._grad_spikes(run)
        losses = _candidates(run)
        for series in losses:
            x, y = series.finite()
            if len(y) < self.min_points:
                continue
            spikes = self.spikes(y, appended_segments(run, x))
            if spikes.count >= self.min_spikes:
                return [self._loss_finding(run, series, x, y, spikes, grad)]
        # an early warning only while the loss is still finite: a run that went NaN is divergence's story
        finite = all(np.isfinite(s.values).all() for s in losses)
        if grad is not None and grad[2].count >= self.min_spikes and finite:
            return [self._grad_finding(run, *grad)]
        return []

    def spikes(self, y: np.ndarray, segments: list[slice] | None = None) -> Spikes:
        """The spikes of one finite series (``divergence`` asks the same question of its losses), judged
        within each of an appended log's runs when ``segments`` are given."""
        return find_spikes(y, self.window, self.z_min, self.ratio_min, self.history, segments)

    def _grad_spikes(self, run: RunData) -> tuple[np.ndarray, np.ndarray, Spikes] | None:
        series = run.get("grad_norm")
        if series is None:
            return None
        x, y = series.finite()
        keep = y > 0
        x, y = x[keep], y[keep]
        if len(y) < self.min_points:
            return None
        return x, y, self.spikes(y)

    def _clip(self, run: RunData) -> tuple[float, str]:
        series = run.get("grad_norm")
        _, y = series.finite() if series is not None else (None, np.empty(0))
        y = y[y > 0] if len(y) else y
        if len(y) >= self.history:
            return nice(float(np.median(y)) * self.clip_factor), f"{self.clip_factor:g}× the median grad_norm"
        return self.default_clip, "a common default; no grad_norm is logged"

    def _fixes(self, run: RunData, clip: float, why: str) -> list[Fix]:
        return [
            Fix(f"Clip gradients (max norm {clip:g})", f"{why}: ordinary steps are untouched, a spike's step is cut",
                {"train.clip_grad": clip}),
            Fix(f"Lower the learning rate (×{LR_FACTOR:g}) or warm it up", "large steps at sharp regions of the "
                "loss surface are the usual cause", scaled_lr(run, LR_FACTOR)),
            Fix("Look at the batches of the spike steps", "one bad sample or a label out of range spikes its batch"),
        ]

    def _loss_finding(self, run: RunData, series: Series, x: np.ndarray, y: np.ndarray, spikes: Spikes,
                      grad: tuple[np.ndarray, np.ndarray, Spikes] | None) -> Finding:
        w = spikes.worst()
        level = float(spikes.level[w])
        ratio = float(y[w] / level)
        clip, why = self._clip(run)
        leading = _leading(x[spikes.index], grad, self.lead) if grad is not None else 0
        grad_note = ""
        if grad is not None and grad[2].count:
            grad_note = (f" grad_norm spiked {grad[2].count}× too, {leading} time(s) at or just before a loss spike: "
                         "watch it as the early warning.")
        summary = (f"{series.name} spiked {spikes.count}× ({spikes.count / len(y):.0%} of its logged points) far "
                   f"above its running level; the worst at {run.when(float(x[w]))}: {curves.fmt(float(y[w]))}, "
                   f"{ratio:.3g}× the level of {curves.fmt(level)} before it.{grad_note}")
        values = {"spikes": spikes.count, "share": spikes.count / len(y), "first_spike_step": float(x[spikes.index[0]]),
                  "worst_step": float(x[w]), "worst_value": float(y[w]), "worst_ratio": ratio,
                  "running_level": level, "log_spread": spikes.spread, "suggested_clip": clip,
                  "grad_spikes": grad[2].count if grad is not None else None, "grad_spikes_leading": leading}
        marks = ({"kind": "vline", "step": float(x[spikes.index[0]]), "label": "first spike"},
                 {"kind": "point", "step": float(x[w]), "value": float(y[w]), "label": f"worst ({ratio:.3g}×)"},
                 {"kind": "hline", "value": level, "label": "running level"})
        return self.finding(summary, Evidence(series.name, int(x[spikes.index[0]]), int(x[-1]), values, marks),
                            self._fixes(run, clip, why))

    def _grad_finding(self, run: RunData, x: np.ndarray, y: np.ndarray, spikes: Spikes) -> Finding:
        w = spikes.worst()
        level = float(spikes.level[w])
        clip, why = self._clip(run)
        summary = (f"grad_norm spiked {spikes.count}× far above its running level (worst {curves.fmt(float(y[w]))} "
                   f"at {run.when(float(x[w]))}, {y[w] / level:.3g}× the level before it) while the loss has not "
                   "spiked: an early warning that a clipping value would make harmless.")
        values = {"grad_spikes": spikes.count, "worst_step": float(x[w]), "worst_value": float(y[w]),
                  "worst_ratio": float(y[w] / level), "running_level": level, "suggested_clip": clip}
        marks = ({"kind": "point", "step": float(x[w]), "value": float(y[w]), "label": "worst grad spike"},)
        return self.finding(summary, Evidence("grad_norm", int(x[spikes.index[0]]), int(x[-1]), values, marks),
                            self._fixes(run, clip, why)[:1], severity="info",
                            title="Gradient-norm spikes (early warning)")


def _candidates(run: RunData) -> list[Series]:
    """The per-step training loss, then other training losses by name, then the epoch-level one."""
    out = [s for s in (run.get(STEP_LOSS),) if s is not None]
    canonical = {STEP_LOSS, *EPOCH_LOSSES, "val/loss"}
    for name in run.names:
        r = role(name)
        if name not in canonical and r.kind == "loss" and r.split != "val" and not name.endswith("_step"):
            out.append(run.series[name])
    if not out:
        out = [s for s in (run.get(n) for n in EPOCH_LOSSES) if s is not None]
    return out


def _leading(loss_steps: np.ndarray, grad: tuple[np.ndarray, np.ndarray, Spikes], lead: int) -> int:
    """How many loss spikes have a grad-norm spike at their step or at most ``lead`` gradient points before."""
    gx, _, spikes = grad
    spiked = np.zeros(len(gx), dtype=bool)
    spiked[spikes.index] = True
    count = 0
    for step in loss_steps:
        at = int(np.searchsorted(gx, step, side="right"))  # gradient points up to this step
        count += bool(spiked[max(0, at - 1 - lead):at].any())
    return count
