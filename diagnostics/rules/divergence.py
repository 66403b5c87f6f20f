"""NaN/inf in the loss, or a loss far above where it started."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import (
    appended_segments,
    cfg,
    other_train_losses,
    reinforcement,
    scaled_lr,
    segment_series,
)
from diagnostics.rules._spikes import magnitude_spikes
from diagnostics.rundata import RunData, Series
from traindoc.core.vocabulary import LOSS_NAMES, VAL_LOSS, role

NAN_WHEN_NOT_COMPUTED = ("ultralytics",)  # formats that write NaN for a loss they did not compute
REBOUND_SMOOTHING = 0.05  # a light smoothing: the low is a level, not one lucky batch
REBOUND_EDGE = 0.1  # start and end levels: medians of the first and last tenth of the curve
CLIMB_TAIL = 1 / 3  # the share of the climb after the low whose points must stay up
DECADE = 10  # spike_orders counts powers of ten
# the rolling median under the floor: a 20th of the curve, 3 to 25 points
FLOOR_WINDOW_MIN, FLOOR_WINDOW_MAX, FLOOR_WINDOW_SHARE = 3, 25, 20
JUMP_SPAN = 3  # a blow-up needs jump_window points before it, at it and after it
TINY = 1e-12  # guards a division by a zero level
LR_CUT = 0.1  # the first fix: a tenth of the learning rate
CLIP_NORM = 1.0  # the second fix: clip the global gradient norm at 1, a common default
WARMUP_STEPS = 100  # the third fix: a short linear warm-up
QUIET_SPAN = 2  # the calm stretch before a jump: this many jump windows
ABRUPT_SHARE = 0.5  # the medians around a jump differ by this share of blowup_factor (half: x5 of x10)
CLIMB_SHARE = 0.5  # a sustained climb sits above this share of rebound_factor times the low
END_MIN_POINTS = 2  # the end level of a rebound is a median of at least two points, not one last value
# a training loss that blew up (NaN, far above its start or its low) is what a validation loss
# "better than training" then measures: the blow-up, not the split, is the cause to report
EXPLAINS = ("val_above_train",)
WITNESS_KINDS = ("lr", "system")  # series a training step does not compute: NaN there means a broken file
MIN_DEAD_POINTS = 2  # a training loss NaN at one row alone is a placeholder (an unfinished epoch), not a run


@register
@dataclass(frozen=True)
class Divergence(Rule):
    """What it detects:
    A loss that became NaN or infinite (training or validation, any loss the log names),
    a (positive) loss whose smoothed end level is far above its starting level, a sudden
    blow-up that does not recover, or repeated spikes of orders of magnitude. A metric
    (accuracy, AUC...) that goes NaN/inf is reported as info: the run need not have
    diverged, but the number is broken.

    Who owns what: NaN/inf in a loss is this rule's alone. Spikes are ``loss_spikes``'
    (how many, the worst, a clipping value); the spikes of ``spike_orders`` orders of
    magnitude or more, at least ``min_blowup_spikes`` of them, are also this rule's: the
    loss numerically blew up (the label: a loss blowing up by 10x or more) even when the
    epoch means merely look high. A x2-3 jump that recovers is not divergence. A training loss
    that blew up explains a validation loss "better than training" (``val_above_train``): the
    comparison then measures the blow-up.

    Why it matters:
    Once the loss is NaN every weight it touches is NaN: the rest of the run is wasted.
    A loss climbing far above its start means the steps overshoot and feed on themselves.

    Suggested fix:
    Lower the learning rate; gradient clipping; warm-up; look for NaN in the inputs;
    numerically stable losses (log-softmax, BCEWithLogitsLoss).

    On real logs the loss may be any training loss the log names (``mean_loss`` of a
    physics-informed net, ``train_loss_batch`` of a tqdm bar), so every series whose name
    reads as a training loss is judged, not only the canonical ones. A series that is NaN
    from its very first value in an Ultralytics results.csv was never computed: a
    reporting artefact, not a run that diverged (a training loss NaN from its first epoch,
    beside finite metrics, still is: it blew up inside that epoch). A log with nothing finite in it is
    a run NaN from its first log when it holds only losses and metrics (the label counts NaN in a
    loss), and a broken file when a series no training step computes (the learning rate) is NaN too.
    A validation loss that is NaN/inf in its first evaluations and finite later was computed, and broke: it is
    reported (warning while it recovered, critical when it ends non-finite). A loss that may
    be negative (a Gaussian NLL) has no ratio to its start or to a running level: its rise is
    not judged, and its spikes are measured against its typical magnitude (the larger of its
    median absolute value and its median absolute deviation). A validation loss far above its
    start beside a training loss is overfitting's, not this rule's, and a validation-only spike that
    recovers is not divergence (the corpus guide labels it false: the training run did not blow up).

    Parameters:
    rise_factor: end level over start level that counts as diverged (finite case).
    min_points: points needed for the finite case. 5: a short run that blew up within its
      5-9 epochs (1.3 -> 4,500 in five) is a blow-up the label counts.
    blowup_factor: a jump of the loss over its running minimum that counts as a blow-up
      (the label guide: ">= ~10x"; a one-off x2-3 jump is not).
    jump_window: points on each side of the jump whose medians must differ by
      ``blowup_factor / 2``: the blow-up is abrupt. RL value losses that grow gradually with
      the return scale (an RL critic, labelled false) do not pass; a PPO loss's x60 jump and a
      physics-informed net's x800 spike that never recovers do.
    sustained: the median of everything after the jump stays this many times above the
      running minimum: the run did not recover (a one-off spike that recovers is not divergence).
      5: a blown-up physics-informed net stays 6-10x up, a PPO loss ~60x; the oscillation preset's noisy
      per-step loss, which swings back to 4x its low, does not.
    quiet: the stretch before the jump is calm, the MAD of its step-to-step changes at most
      this share of its median level:
      a loss that already swings by tens of percent (the oscillation preset, noisy per-step
      losses) is oscillating, and its spikes are that, not a blow-up.
    fell_to: the low must be at most this share of the starting level: a loss that had
      been falling and then blew up. RL losses whose low is their first value and that grow
      with the return scale (RL critics) are not divergence.
    min_scale: the running minimum must be at least this share of the curve's first value:
      a loss that fell to ~1e-4 (an identity term of a CycleGAN) jumping x80 to 0.01 has not
      blown up (a CycleGAN identity term, labelled false).
    spike_orders: orders of magnitude above its running level (``loss_spikes``' statistic,
      with that rule's default parameters) at which a spike is a blow-up.
    min_blowup_spikes: spikes of ``spike_orders`` needed. 1: the label counts a loss blowing up by
      10x or more, and a one-row jump of a thousandfold (an actor-critic value loss at x6,300 for
      one log) is such a blow-up even when the next row is back; a x10 spike that recovers stays
      ``loss_spikes``' alone.
    rebound_factor: a training loss that had fallen (to ``fell_to`` of its start or lower) and
      climbs back, without any abrupt jump, to an end level this many times its smoothed low
      has diverged (the slow runaway of a too-high lr or a broken schedule). Not judged in an
      RL run (it logs a return or reward), whose losses grow with the returns. Calibrated with
      bench/calibrate.py.
    rebound_share: ... and this share of the points after the low's last-third mark sit above
      half that factor: the climb is sustained, not one excursion at the very end.
    early_points: the opening points of the (canonical) training loss judged against its first value, before a
      running level exists (the spike statistic needs ``loss_spikes``' history of points, and a
      blow-up in the first steps poisons the trailing median it would be read against).
    early_factor: an opening point this many times the loss's first value has blown up (the label's
      ">= ~10x"), even when it recovers: a fresh model's loss is at its chance level, the highest an
      ordinary run reaches, so an order of magnitude above it is not a hard batch (later in the run,
      a x10 spike above a low level can be, and stays ``loss_spikes``'). The point must also stand
      this far above the curve's median: a first value logged near zero is no level. Losses of other
      names (a GAN's discriminator, an RL value loss) do not start at a chance level: not judged.
    Figures: bench/calibrate.py (docs/accuracy.md).

    References:
    Goodfellow et al., Deep Learning, ch. 8.2.4 (cliffs and exploding gradients);
    PyTorch anomaly detection (torch.autograd.set_detect_anomaly).
    """

    id = "divergence"
    order = 10
    title = "Training diverged"
    severity = "critical"
    requires = (LOSS_NAMES,)

    rise_factor: float = 3.0
    min_points: int = 5
    blowup_factor: float = 10.0
    jump_window: int = 5
    sustained: float = 5.0
    min_scale: float = 0.01
    fell_to: float = 0.5
    quiet: float = 0.3
    spike_orders: float = 3.0
    min_blowup_spikes: int = 1
    rebound_factor: float = 4.0
    rebound_share: float = 0.6
    early_points: int = 10
    early_factor: float = 10.0

    def applies(self, run: RunData) -> bool:
        return bool(_losses(run))

    def check(self, run: RunData) -> list[Finding]:
        losses = _losses(run)
        alive = any(np.isfinite(s.values).any() for s in run.series.values())
        # nothing finite anywhere: a broken file when a series training does not compute (the learning
        # rate, a clock) is NaN too; with only losses and metrics logged, the run was NaN from its first log
        broken = not alive and any(role(n).kind in WITNESS_KINDS for n in run.names)
        for series in [*losses, *_val_losses(run, losses)]:
            if np.isfinite(series.values).all():
                continue
            # NaN from the first value counts for a training loss while something else was
            # logged (a run that blew up within its first epoch), and for a validation loss that
            # is finite later; a validation loss that is never finite was never computed (YOLO
            # exports), and an all-NaN file is broken
            is_val = _is_val(series.name)
            # a validation loss NaN at every evaluation beside finite metrics broke at each one; only
            # Ultralytics writes NaN for a validation loss it never computed
            never_computed = run.meta.get("format") in NAN_WHEN_NOT_COMPUTED
            dead_from_start = not alive and not broken and len(series.values) >= MIN_DEAD_POINTS
            computed = (np.isfinite(series.values).any() or (alive and not never_computed)) if is_val \
                else alive or dead_from_start
            if np.isfinite(series.values[0]) or computed:
                return [self._non_finite(run, series)]
        # a validation loss far above its start beside a training loss is overfitting's (or the training
        # loss's own rise, judged first); alone it is the only loss there is to judge
        trained = any(s.name in LOSS_NAMES and s.name != VAL_LOSS for s in losses)
        for series in losses:
            if series.name in LOSS_NAMES and not (trained and series.name == VAL_LOSS):
                found = _first(self._rise, run, series)
                if found:
                    return found
        for series in losses:
            if series.name in LOSS_NAMES and series.name != VAL_LOSS:
                found = _first(self._rebound, run, series)
                if found:
                    return found
        # the total training loss when the log has one; its components (a PPO value loss) swing on their own
        train = [s for s in losses if s.name in LOSS_NAMES and s.name != VAL_LOSS] or \
            [s for s in losses if s.name not in LOSS_NAMES]
        for series in train:
            found = _first(self._blowup, run, series)
            if found:
                return found
        # a supervised objective starts at its chance level: only the canonical training loss of a run
        # that is not reinforcement learning (whose losses start near zero and grow with the returns)
        for series in [] if reinforcement(run) else [s for s in train if s.name in LOSS_NAMES]:
            found = _first(self._early, run, series)
            if found:
                return found
        for series in train:
            found = self._spiked(run, series)
            if found:
                return found
        return self._metric_non_finite(run)

    def _early(self, run: RunData, series: Series) -> list[Finding]:
        """A blow-up in the opening points: ``early_factor`` times the first value (the loss at init)."""
        x, y = series.finite()
        if len(y) < self.min_points or y.min() <= 0:  # a loss that may be negative has no ratio to its start
            return []
        head = y[:self.early_points]
        first = float(head[0])
        at = int(np.argmax(head))
        peak = float(head[at])
        if peak < self.early_factor * first or peak < self.early_factor * float(np.median(y)):
            return []
        later = y[at + 1:]
        after = f"; it came back to {curves.fmt(float(np.median(later[-self.early_points:])))} later" \
            if len(later) else ""
        summary = (f"{series.name} blew up in its first {at + 1} logged points: from {curves.fmt(first)} at "
                   f"{run.when(float(x[0]))} to {curves.fmt(peak)} at {run.when(float(x[at]))} "
                   f"({peak / first:.3g}× the loss at the start, which a fresh model does not exceed){after}.")
        values = {"first_value": first, "peak": peak, "peak_step": float(x[at]), "ratio": peak / first,
                  "median": float(np.median(y))}
        marks = ({"kind": "hline", "value": first, "label": "first value"},
                 {"kind": "point", "step": float(x[at]), "value": peak, "label": f"{peak / first:.3g}× the start"})
        return [self.finding(summary, Evidence(series.name, int(x[0]), int(x[-1]), values, marks),
                             self._fixes(run), title=f"Loss blew up at {run.when(float(x[at]))}, right after the start",
                             explains=_explains(series.name))]

    def _spiked(self, run: RunData, series: Series) -> list[Finding]:
        """Spikes of orders of magnitude over the running level (``loss_spikes``' statistic); a loss that
        may be negative (a Gaussian NLL) has no ratio to a level, so its spikes are measured against its
        typical magnitude instead."""
        from diagnostics.rules.loss_spikes import LossSpikes  # one statistic, one home

        x, y = series.finite()
        if len(y) and y.min() <= 0:
            big, level = magnitude_spikes(y, DECADE ** self.spike_orders)
        else:
            spikes = LossSpikes().spikes(y, appended_segments(run, x))
            big, level = spikes.index[spikes.ratio >= DECADE ** self.spike_orders], spikes.level
        if big.size < self.min_blowup_spikes:
            return []
        w = int(big[int(np.argmax(y[big] / level[big]))])
        orders = float(np.log10(y[w] / level[w]))
        summary = (f"{series.name} blew up {big.size}× ({big.size / len(y):.0%} of its logged points) to "
                   f"about {orders:.0f} orders of magnitude above its running level (worst {curves.fmt(float(y[w]))} "
                   f"at {run.when(float(x[w]))}, from {curves.fmt(float(level[w]))}): the loss overflows even where "
                   "its averages merely look high.")
        values = {"blowup_spikes": int(big.size), "first_step": float(x[big[0]]), "worst_step": float(x[w]),
                  "worst_value": float(y[w]), "running_level": float(level[w]), "orders": orders}
        marks = ({"kind": "vline", "step": float(x[big[0]]), "label": "first blow-up"},
                 {"kind": "hline", "value": float(level[w]), "label": "running level"})
        return [self.finding(summary, Evidence(series.name, int(x[big[0]]), int(x[-1]), values, marks),
                             self._fixes(run), title=f"Loss blew up {big.size}× by orders of magnitude",
                             explains=_explains(series.name))]

    def _metric_non_finite(self, run: RunData) -> list[Finding]:
        """A metric with a direction (accuracy, AUC...) that went NaN/inf after being finite, or finite later."""
        for name in run.names:
            r = role(name)
            values = run.series[name].values
            if r.kind != "metric" or not r.better or np.isfinite(values).all() or not np.isfinite(values).any():
                continue
            series = run.series[name]
            bad = int(np.argmax(~np.isfinite(values)))
            step = float(series.steps[bad])
            summary = (f"{name} is NaN/inf at {run.when(step)} ({int((~np.isfinite(values)).sum())} of "
                       f"{len(values)} values): a metric, not a loss, so the run need not have diverged, but that "
                       "number is broken (an empty evaluation set, a division by zero, a class never predicted).")
            values_ = {"first_bad_step": step, "non_finite": int((~np.isfinite(values)).sum()), "points": len(values)}
            marks = ({"kind": "vline", "step": step, "label": "first NaN/inf"},)
            fix = Fix("Check the metric's computation on that evaluation",
                      "an empty batch or a zero denominator gives NaN; guard it or skip the evaluation")
            return [self.finding(summary, Evidence(name, int(step), int(series.steps[-1]), values_, marks), (fix,),
                                 severity="info", title=f"{name} became NaN/inf")]
        return []

    def _blowup(self, run: RunData, series: Series) -> list[Finding]:
        """A sustained, abrupt jump over the running minimum (train losses of any name)."""
        x, y = series.finite()
        k = self.jump_window
        if len(y) < max(self.min_points, JUMP_SPAN * k) or y.min() <= 0:
            return []
        # the floor is the running minimum of a rolling median: one lucky batch is not the low
        w = max(FLOOR_WINDOW_MIN, min(FLOOR_WINDOW_MAX, len(y) // FLOOR_WINDOW_SHARE))
        smooth = pd.Series(y).rolling(w, center=True, min_periods=1).median().to_numpy()
        run_min = np.minimum.accumulate(smooth)
        start = float(np.median(y[:k]))
        for i in range(k, len(y) - k + 1):
            floor = float(run_min[i - 1])
            if y[i] < self.blowup_factor * floor or floor > self.fell_to * start \
                    or floor < self.min_scale * start:
                continue
            before, after = np.median(y[i - k:i]), np.median(y[i:i + k])
            rest = float(np.median(y[i:]))
            pre = y[max(0, i - QUIET_SPAN * k):i]
            steps_ = np.diff(pre)  # detrended: a steady fall is calm, a swinging loss is not
            quiet = np.median(np.abs(steps_ - np.median(steps_))) <= self.quiet * max(float(np.median(pre)), TINY)
            if quiet and after >= ABRUPT_SHARE * self.blowup_factor * before and rest >= self.sustained * floor:
                peak = float(y[i:].max())
                summary = (f"{series.name} blew up at {run.when(float(x[i]))}: from a low of {curves.fmt(floor)} "
                           f"to {curves.fmt(float(y[i]))} (peak {curves.fmt(peak)}, {peak / floor:.0f}× the low), "
                           f"and it stays {rest / floor:.0f}× above the low for the rest of the run.")
                values = {"running_min": float(floor), "jump_value": float(y[i]), "peak": peak,
                          "rest_median": rest, "ratio": peak / floor}
                marks = ({"kind": "vline", "step": float(x[i]), "label": "blow-up"},
                         {"kind": "hline", "value": float(floor), "label": "lowest before"})
                return [self.finding(summary, Evidence(series.name, int(x[i]), int(x[-1]), values, marks),
                                     self._fixes(run), title=f"Loss blew up at {run.when(float(x[i]))}",
                                     explains=_explains(series.name))]
        return []

    def _non_finite(self, run: RunData, series: Series) -> Finding:
        bad = int(np.argmax(~np.isfinite(series.values)))
        step = float(series.steps[bad])
        kind = "NaN" if np.isnan(series.values[bad]) else "inf"
        before = series.values[:bad]
        share = float((~np.isfinite(series.values[bad:])).mean())
        tail = ""
        if len(before):
            moved = "rising" if before[-1] > before[0] else "falling" if before[-1] < before[0] else "staying"
            tail = f" after {moved} from {curves.fmt(before[0])} to {curves.fmt(before[-1])}"
        recovered = bool(np.isfinite(series.values[-1]))
        summary = (
            f"{series.name} became {kind} at {run.when(step)}{tail}; "
            f"{share:.0%} of the values from there on are NaN/inf"
            + (f" (finite again at the end, {curves.fmt(float(series.values[-1]))})." if recovered else ".")
        )
        values = {
            "first_bad_step": step,
            "kind": kind,
            "last_finite": float(before[-1]) if len(before) else None,
            "first_value": float(before[0]) if len(before) else None,
            "share_bad_after": share,
        }
        marks = ({"kind": "vline", "step": step, "label": f"first {kind}"},)
        if len(before):
            marks += (
                {
                    "kind": "point",
                    "step": float(series.steps[bad - 1]),
                    "value": float(before[-1]),
                    "label": "last finite value",
                },
            )
        is_val = _is_val(series.name)
        return self.finding(
            summary,
            Evidence(series.name, int(step), int(series.steps[-1]), values, marks),
            self._fixes(run),
            severity="warning" if is_val and recovered else None,
            title=f"{'Validation loss' if is_val else 'Loss'} became {kind} at {run.when(step)}",
            explains=_explains(series.name),
        )

    def _rise(self, run: RunData, series: Series) -> list[Finding]:
        x, y = curves.reduce(*series.finite())
        if len(y) < self.min_points or y.min() <= 0:  # a loss that may be negative has no ratio to its start
            return []
        start = max(curves.level(y, REBOUND_EDGE, end=False), float(y[0]))
        end = curves.level(y, REBOUND_EDGE, end=True)
        if start <= 0 or end < self.rise_factor * start:
            return []
        summary = (
            f"{series.name} rose from {curves.fmt(start)} at the start to {curves.fmt(end)} at the end "
            f"({end / start:.1f}× higher)."
        )
        k = max(1, int(len(y) * REBOUND_EDGE))
        values = {"start_level": start, "end_level": end, "ratio": end / start}
        marks = (
            {"kind": "hline", "value": start, "label": "starting level"},
            {"kind": "span", "start": float(x[-k]), "end": float(x[-1]), "label": "far above start"},
        )
        return [
            self.finding(
                summary, Evidence(series.name, int(x[0]), int(x[-1]), values, marks), self._fixes(run),
                explains=_explains(series.name),
            )
        ]

    def _rebound(self, run: RunData, series: Series) -> list[Finding]:
        """A training loss that fell, then climbed back far above its low and stayed there."""
        x, y = curves.reduce(*series.finite())
        if len(y) < self.min_points or y.min() <= 0 or reinforcement(run):
            return []
        sy = curves.smooth(y, curves.window(len(y), REBOUND_SMOOTHING))
        low_at = int(np.argmin(sy))
        low, start = float(sy[low_at]), curves.level(y, REBOUND_EDGE, end=False)
        end = curves.level(y, REBOUND_EDGE, end=True, min_n=END_MIN_POINTS)
        if low > self.fell_to * start or low < self.min_scale * start or end < self.rebound_factor * low:
            return []
        tail = y[low_at + int((len(y) - low_at) * (1 - CLIMB_TAIL)):]  # the end of the climb
        if not len(tail) or np.mean(tail > CLIMB_SHARE * self.rebound_factor * low) < self.rebound_share:
            return []
        peak = float(y[low_at:].max())
        summary = (f"{series.name} fell from {curves.fmt(start)} to a low of {curves.fmt(low)} at "
                   f"{run.when(float(x[low_at]))}, then climbed back to {curves.fmt(end)} by {run.when(float(x[-1]))} "
                   f"({end / low:.0f}× the low, peak {curves.fmt(peak)}): the run diverged after it had converged.")
        values = {"start_level": start, "low": low, "low_step": float(x[low_at]), "end_level": end,
                  "ratio": end / low, "peak": peak}
        marks = ({"kind": "point", "step": float(x[low_at]), "value": low, "label": "lowest"},
                 {"kind": "span", "start": float(x[low_at]), "end": float(x[-1]), "label": "climbing back"})
        return [self.finding(summary, Evidence(series.name, int(x[low_at]), int(x[-1]), values, marks),
                             self._fixes(run), title=f"Loss climbed back {end / low:.0f}× above its low",
                             explains=_explains(series.name))]

    def _fixes(self, run: RunData) -> list[Fix]:
        fixes = [
            Fix(
                f"Lower the learning rate (×{LR_CUT:g})",
                "overshooting steps are the usual cause",
                scaled_lr(run, LR_CUT),
            ),
            Fix(
                f"Clip gradients (max norm {CLIP_NORM:g})",
                "one huge gradient cannot throw the weights away",
                {"train.clip_grad": CLIP_NORM},
            ),
            Fix(
                "Warm the learning rate up",
                "early steps on a fresh net are the most fragile",
                {"sched.name": "warmup", "sched.warmup_steps": WARMUP_STEPS},
            ),
            Fix("Look for NaN/inf in the inputs and labels", "one bad sample poisons the whole batch"),
        ]
        if cfg(run, "model.head") == "softmax" or cfg(run, "loss.name") == "mse":
            fixes.append(
                Fix(
                    "Use a numerically stable loss (logits + CrossEntropyLoss)",
                    "log-softmax inside the loss avoids log(0) and huge gradients",
                    {"model.head": "logits", "loss.name": "cross_entropy"},
                )
            )
        else:
            fixes.append(
                Fix(
                    "Use numerically stable losses (log-softmax, BCEWithLogitsLoss)",
                    "they avoid log(0) and overflow",
                )
            )
        return fixes


def _first(judge: Callable[[RunData, Series], list[Finding]], run: RunData, series: Series) -> list[Finding]:
    """``judge`` on each run of an appended log in turn (a fresh run's starting loss after another's low
    is a restart, not a blow-up); on the whole curve for an ordinary run."""
    return next((found for part in segment_series(run, series) if (found := judge(run, part))), [])


def _losses(run: RunData) -> list[Series]:
    """The canonical losses first, then any other series whose name reads as a loss (not a metric)."""
    out = [s for s in (run.get(n) for n in LOSS_NAMES) if s is not None]
    others = other_train_losses(run, skip={s.name for s in out})
    return out + [others[n] for n in sorted(others)]


def _val_losses(run: RunData, seen: list[Series]) -> list[Series]:
    """Validation losses of any name not judged yet (``val/box_loss``): only their NaN/inf is this rule's."""
    names = {s.name for s in seen}
    return [run.series[n] for n in run.names if n not in names and role(n).kind == "loss" and role(n).split == "val"]


def _is_val(name: str) -> bool:
    return name == VAL_LOSS or role(name).split == "val"


def _explains(name: str) -> tuple[str, ...]:
    """What a finding on ``name`` explains: a training loss's blow-up explains a val-better-than-train."""
    return () if _is_val(name) else EXPLAINS
