"""Validation gets worse for a sustained stretch while training keeps improving."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from diagnostics import curves, trend
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._augment import augmentation, data_kind
from diagnostics.rules._chance import at_chance
from diagnostics.rules._common import cfg, epoch_loss, judge_each_run, other_train_losses, share, step_loss
from diagnostics.rundata import RunData, Series
from traindoc.core.vocabulary import VAL_CURVES, VAL_LOSS, Monitor, partner, role

METRICS = VAL_CURVES[1:]  # the scores (direction from the vocabulary); used when no val loss is logged
SMOOTH_SHARE = 0.1  # the smoothing window and the end level span a tenth of the run: a trend, not a point
MIN_END_POINTS = 2  # the end level is a median of at least two evaluations (one is a single draw)
MIN_TRAIN_POINTS = 3  # a training curve with fewer points has no trend to compare with
BEST_NEIGHBOURS = 3  # a short run's best level: the best and the evaluation on each side
FEW_ONE_MISS_FROM = 4  # from this many evaluations after the best, one of them may fall back near it
TINY = 1e-12  # guards divisions by a best value or a training loss of zero
# the fixes' patches
PATIENCE = 5  # early stopping a few evaluations after the best (Keras/Lightning examples use 3-10)
WD_START, WD_STEP, WD_MAX = 1e-4, 10.0, 1e-2  # L2 to add: the common default, a decade up, AdamW's usual top
DROPOUT_LOW, DROPOUT_HIGH = 0.3, 0.5  # the usual range on fully connected layers (Srivastava et al. 2014)
MIN_WIDTH, WIDTH_CUT, SMALL_WIDTH = 8, 4, 32  # a smaller model: a quarter of the width, never below 8; 32 is small
@register
@dataclass(frozen=True)
class Overfitting(Rule):
    """What it detects:
    A validation loss (or accuracy/AUC when no loss is logged) reaches its best, then
    trends worse while its training partner keeps falling, so the train-validation gap
    widens. Every validation loss with a training partner is judged (``val/box_loss``
    beside ``train/box_loss`` in a multi-loss detector log), the summed ``val/loss`` first;
    the first that overfits is reported with its best (onset) evaluation and the loss since;
    a part that rises while the summed ``val/loss`` fell by ``min_rise`` since the part's best is
    a trade between the parts, not overfitting (a part that rises while the total stalls is), and so is
    a part that rises while the task's scores (mAP, accuracy, AUC; ``_scores_gained``) keep improving.
    A log with no training curve at all has its val curve judged alone (a sustained rise after
    the best is what a rater reads as overfitting; the finding says the training side is assumed).
    The train curve need not lie below the val curve: a detector trained on augmented images has a
    val loss below its train loss and still overfits. An appended log is judged run by run.
    Also its extreme: a val accuracy flat at chance while training fits (``rules/_chance.py``).

    Why it matters:
    Past the onset the model memorises the training set; every further epoch costs
    compute and makes the model you keep worse, unless the best weights are restored.

    Suggested fix:
    Early stopping at the best epoch (restore best weights); weight decay / L2; dropout
    0.3-0.5 on fully connected layers; data augmentation (mirror, flip, random crop);
    more data; a smaller model.

    The statistic: after the best evaluation, a one-sided Mann-Kendall trend test (Kendall's
    tau of the values against their order, ``diagnostics.trend``) must find a rise with a
    p-value at most ``max_p``, and the end level (the median of the last tenth) must lie above
    the best level by ``min_rise`` and by ``noise_k`` standard errors (the point noise, from the
    median absolute successive difference, over the square root of the points in each level);
    a step up that stays there passes a one-sided sign test instead of the trend test, and a
    rise of ``jump_k`` standard errors needs neither. The noise is measured from the first point
    of the best level on (those points make its standard error). A rise through large swings then
    counts, a noisy plateau or a single bump does not. In a short run (fewer than ``smooth_points``
    evaluations) whose later evaluations swing, a stretch the tests reject is still overfitting when
    its later half lies wholly above the best level, its median by ``few_min_rise`` and by
    ``late_noise_k`` standard errors of the scatter about the stretch's own Theil-Sen line (swings
    that alternate inflate successive differences, not that), after a curve that came down to it.
    Runs shorter than ``smooth_points`` are not smoothed before their best is found (a window
    of a few points would move it). Thresholds calibrated with bench/calibrate.py.

    Parameters:
    min_points: evaluations needed before judging (4: a short fine-tune whose best is its first
      evaluation and whose three later ones are all worse has overfit; raters call it).
    min_after: share of the evaluations that must come after the best.
    min_after_points: evaluations after the best the trend test needs (4: the smallest count
      whose perfectly rising order reaches p < 0.05).
    smooth_points: runs with at least this many evaluations are smoothed before the best is found.
    max_p: the one-sided Mann-Kendall p-value of the post-best curve must be at most this, or
      else the sign-test p-value of its points lying ``shift_k`` point noises above the best.
    shift_k: how far above the best level (in point noises) a later evaluation must lie to count
      in the sign test (a step up that then stays has no trend within the stretch); 1.5, not 1:
      the smoothed minimum is the lowest of many windows, itself a low draw, so on a noisy plateau
      most later points clear it by one noise (two real healthy calibration logs did).
    jump_k: a rise of this many standard errors counts without either test (a few evaluations far
      above the best: too few for a test to reach ``max_p``).
    min_rise: relative worsening of the end level of a val loss from its best (an effect-size floor
      beside the noise test: a loss with a large constant floor, such as a cross-entropy stuck near
      ln K, rises by a few percent of its level when it overfits; 0.04 from the balanced sweep).
    min_rise_of_fall: ... and by this share of how far the val loss fell from its first evaluation to its
      best: a loss that fell to near zero (a task solved, a grokking run) and wanders in the noise of its
      last digits rises by thousands of percent of its best and by nothing of its scale.
    min_metric_drop: absolute drop of val accuracy/AUC from its best (metric mode).
    noise_k: the worsening must exceed this many standard errors (of the end level minus the best level).
      2.5: the best level is the minimum over many windows, a selection the plain standard error
      ignores (bench/calibrate.py's balanced sweep keeps within the 3% budget from 2.5); short runs
      whose val loss climbs through swings are judged by the short-run test instead.
    few_after_points: with fewer evaluations after the best than the trend test needs (or fewer
      than ``few_after_max``, where the tests have no power), at least this many, each worse than
      the best (one may miss from four on, never the last)...
    few_after_max: below this many evaluations after the best, a stretch the tests reject is
      judged by the few-evaluations test instead.
    few_min_rise: ... by this share of the best val loss (0.07: a four-epoch fine-tune's later
      evaluations 7-15% above its best; at 0.05, a noise of 5% on a plateau alarms)...
    few_metric_drop: ... or, for an accuracy/AUC, by this much absolute, and by
    few_noise_k: ... this many point noises of the curve up to the best (a noisy plateau's later
      evaluations clear a lucky low by less).
    late_from: the short-run test needs at least this many evaluations after the best (two in its
      later half).
    late_noise_k: the later half's median must lie this many standard errors above the best level.

    References:
    SageMaker Debugger Overfit rule; Prechelt, "Early Stopping - But When?" (1998);
    Mann (1945), Kendall (1975): the Mann-Kendall trend test; Keras EarlyStopping(restore_best_weights=True).
    """

    id = "overfitting"
    order = 120
    title = "Overfitting"
    severity = "warning"
    requires = (VAL_CURVES,)

    min_points: int = 4
    min_after: float = 0.2
    min_after_points: int = 4
    smooth_points: int = 20
    max_p: float = 0.05
    min_rise: float = 0.04
    min_rise_of_fall: float = 0.01
    min_metric_drop: float = 0.02
    noise_k: float = 2.5
    shift_k: float = 1.5
    jump_k: float = 3.5
    few_after_points: int = 2
    few_after_max: int = 8
    few_min_rise: float = 0.07
    few_metric_drop: float = 0.04
    few_noise_k: float = 2.0
    late_from: int = 4
    late_noise_k: float = 2.5

    def applies(self, run: RunData) -> bool:
        """A canonical validation curve, any validation loss with a training partner (multi-loss logs), or a
        validation error with none (``val_mse`` beside the training loss)."""
        return super().applies(run) or bool(_loss_pairs(run)) or bool(_unpartnered_val(run))

    def check(self, run: RunData) -> list[Finding]:
        """An appended log (several runs in one file) is judged run by run: a restart's jump back up is no
        rise of the val loss, and one run that overfits is found among others that did not (a resume from a
        checkpoint stays with the run it resumes: ``fresh_runs``)."""
        val = next((run.get(n) for n in (*VAL_CURVES, *_unpartnered_val(run)) if run.get(n) is not None), None)
        found = judge_each_run(run, val, self._check_one) if val is not None else None
        return self._check_one(run) if found is None else found

    def _check_one(self, run: RunData) -> list[Finding]:
        return self._by_best_point(run) or at_chance(self, run)  # val acc at chance: rules/_chance.py

    def _by_best_point(self, run: RunData) -> list[Finding]:
        pairs = _loss_pairs(run)
        for name, train in pairs:
            found = self._judge(run, name, train, lower_better=True)
            if found and (name == VAL_LOSS or not self._total_gained(run, found[0].evidence.values["best_step"])
                          and not self._scores_gained(run, found[0].evidence.values["best_step"])):
                return found
        if pairs:
            return []
        for name in METRICS:
            train = run.get(partner(name) or "")
            if run.get(name) is not None and train is not None:
                return self._judge(run, name, train, lower_better=not Monitor(name).higher_is_better)
        if (train := epoch_loss(run) or step_loss(run)) is not None:
            for name in _unpartnered_val(run):  # an error on held-out data beside the training loss
                if found := self._judge(run, name, train, lower_better=True):
                    return found
        if not _trains(run):  # no training curve logged at all: the val curve is judged alone
            for name in VAL_CURVES:
                if run.get(name) is not None:
                    return self._judge(run, name, None, lower_better=not Monitor(name).higher_is_better)
        return []

    def _total_gained(self, run: RunData, since: float) -> bool:
        """The summed val loss fell by ``min_rise`` or more since a part's best: the part's rise is a trade
        between the parts (a segmentation loss up while box, class and the total improve), not overfitting."""
        total = run.get(VAL_LOSS)
        if total is None:
            return False
        x, y = curves.reduce(*total.finite())
        if len(y) < MIN_END_POINTS:
            return False
        at_best = float(np.interp(since, x, curves.smooth(y, curves.window(len(y), SMOOTH_SHARE))))
        end = curves.level(y, SMOOTH_SHARE, end=True, min_n=MIN_END_POINTS)
        return end <= at_best - self.min_rise * max(abs(at_best), TINY)

    def _scores_gained(self, run: RunData, since: float) -> bool:
        """The task's validation scores (bounded, higher is better: mAP, accuracy, AUC; not precision and recall,
        which trade against each other at a threshold) gained ``min_metric_drop``
        since a part's best and none lost as much: the model got better at its task, so one part's rise is a
        trade between the parts, not memorisation."""
        gains = []
        for series in run.series.values():
            r = role(series.name)
            if r.split != "val" or r.kind != "metric" or r.better != "higher" or _THRESHOLDED.search(series.name):
                continue
            x, y = curves.reduce(*series.finite())
            if len(y) < self.min_points or y.min() < 0 or y.max() > 1:
                continue
            at_best = float(np.interp(since, x, curves.smooth(y, curves.window(len(y), SMOOTH_SHARE))))
            gains.append(curves.level(y, SMOOTH_SHARE, end=True, min_n=MIN_END_POINTS) - at_best)
        return bool(gains) and max(gains) >= self.min_metric_drop and min(gains) > -self.min_metric_drop

    def _judge(self, run: RunData, name: str, train_series: Series | None, lower_better: bool) -> list[Finding]:
        x, y = curves.reduce(*run.get(name).finite())
        n = len(y)
        if n < self.min_points:
            return []
        sign = 1.0 if lower_better else -1.0
        s = sign * y
        smoothed = n >= self.smooth_points
        sy = curves.smooth(s, curves.window(n, SMOOTH_SHARE)) if smoothed else s
        b = int(np.argmin(sy))
        after = n - 1 - b
        if after < max(self.min_after_points, share(n, self.min_after)):
            return self._few_after(run, name, train_series, x, y, b, sign, lower_better, not smoothed)
        # the best level: the smoothed minimum, or in a short run the median of the best and its
        # neighbours (a raw minimum of noisy points sits a noise below the level they share)
        k_best = curves.window(n, SMOOTH_SHARE) if smoothed else BEST_NEIGHBOURS
        best = float(sy[b]) if smoothed else _neighbour_level(s, b)
        k_end = max(MIN_END_POINTS, int(np.ceil(SMOOTH_SHARE * n)))
        end = curves.level(s, SMOOTH_SHARE, end=True, min_n=MIN_END_POINTS)
        rise = end - best
        needed = max(self.min_rise * max(abs(best), TINY), self.min_rise_of_fall * (float(s[0]) - best)) \
            if lower_better else self.min_metric_drop
        if rise <= 0 or rise < needed:
            return []
        # z: the rise over the standard error of the difference of the two levels, from the point
        # noise (MAD of successive differences / sqrt 2: blind to the trend and to a level shift)
        # from the best level's first point on (its noise is part of the standard error; a steep
        # descent before it is no noise)
        noise = trend.diff_noise(s[max(0, b - k_best // 2) :])
        z = rise / max(noise * np.sqrt(1 / k_end + 1 / k_best), TINY)
        if z < self.noise_k:  # short stretches: levels of two or three points have no power either
            return self._few_after(run, name, train_series, x, y, b, sign, lower_better, not smoothed) \
                if after < self.few_after_max or not smoothed else []
        # a trend after the best (Mann-Kendall), or a step up that stays: most later evaluations more
        # than a noise above the best (a sign test; on a noisy plateau the best is a low draw and only
        # about half of the later points clear it by a noise)
        post = s[b + 1 :]
        above = int(np.sum(post > best + self.shift_k * noise))
        if (trend.mann_kendall_p(post) > self.max_p and trend.sign_test_p(above, len(post)) > self.max_p
                and z < self.jump_k):
            # a handful of evaluations gives the tests no power (a sign test on 4 points bottoms at
            # p = 1/16): a short stretch is judged like one with too few points for them
            if after < self.few_after_max or not smoothed:
                return self._few_after(run, name, train_series, x, y, b, sign, lower_better, not smoothed)
            return []
        return self._memorised(run, name, train_series, x, y, b, sign, best, end, lower_better, smoothed)

    def _few_after(self, run: RunData, name: str, train_series: Series | None, x: np.ndarray, y: np.ndarray, b: int,
                   sign: float, lower_better: bool, short_run: bool) -> list[Finding]:
        """Too few evaluations after the best for a trend test: every one of them clearly worse instead.

        A run stopped a few evaluations after its best (a 10-epoch fine-tune, early stopping with a
        short patience) has no room for a test; ``few_after_points`` or more evaluations, each worse
        than the best by ``few_min_rise`` (or ``few_metric_drop`` for a metric), still say it. In a
        short run (``short_run``), a later half wholly above the best level says it too.
        """
        s = sign * y
        post = s[b + 1 :]
        if len(post) < self.few_after_points:
            return []
        # the best's level (with its neighbours): on a noisy plateau the raw best is a lucky draw
        best = _neighbour_level(s, b)
        margin = max(self.few_min_rise * max(abs(best), TINY), self.min_rise_of_fall * (float(s[0]) - best)) \
            if lower_better else self.few_metric_drop
        worse = post >= best + max(margin, self.few_noise_k * trend.diff_noise(s[: b + 1]))
        misses = 0 if len(post) < FEW_ONE_MISS_FROM else 1  # one evaluation back near the best is noise
        if int(np.sum(~worse)) <= misses and worse[-1]:
            end = float(np.median(post[-MIN_END_POINTS:]))
        elif short_run and len(post) >= self.late_from and s[0] >= best + margin \
                and self._late_half_worse(post, best, margin):  # a curve that never came down has no turn
            end = float(np.median(post[len(post) // 2 :]))
        else:
            return []
        return self._memorised(run, name, train_series, x, y, b, sign, best, end, lower_better, False)

    def _late_half_worse(self, post: np.ndarray, best: float, margin: float) -> bool:
        """A short stretch that climbs through swings: its later half lies wholly above the best level,
        its median by ``margin`` and by ``late_noise_k`` standard errors of the scatter about the
        stretch's own trend line (swings that alternate inflate successive differences, not that)."""
        late = post[len(post) // 2 :]
        rise = float(np.median(late)) - best
        noise = _scatter_about_trend(post)
        se = noise * np.sqrt(1 / len(late) + 1 / BEST_NEIGHBOURS)
        return bool(np.min(late) > best and rise >= margin and rise >= self.late_noise_k * se)

    def _memorised(self, run: RunData, name: str, train_series: Series | None, x: np.ndarray, y: np.ndarray, b: int,
                   sign: float, best: float, end: float, lower_better: bool, smoothed: bool) -> list[Finding]:
        """The training partner kept improving past the best and the gap widened: memorisation."""
        s, n = sign * y, len(y)
        shown = curves.refine_min(s, b, curves.window(n, SMOOTH_SHARE)) if smoothed else b
        slope = trend.theil_sen_slope(x[b:], y[b:])
        if train_series is None:  # nothing to compare with: a sustained val rise is what a rater reads
            return [self._finding(run, name, None, x, y, shown, sign, float(s[shown]), float(end), slope)]
        tx, ty = curves.reduce(*train_series.finite())
        if len(ty) < MIN_TRAIN_POINTS:
            return []
        st = curves.smooth(sign * ty, curves.window(len(ty), SMOOTH_SHARE))
        train_best = float(np.interp(x[b], tx, st))
        train_end = curves.level(sign * ty, SMOOTH_SHARE, end=True, min_n=MIN_END_POINTS)
        if train_end >= train_best:  # training stalled or worsened too: not memorisation
            return []
        gap_best, gap_end = best - train_best, end - train_end
        if gap_end <= gap_best:
            return []
        gaps = (train_best, train_end, gap_best, gap_end)
        return [self._finding(run, name, train_series.name, x, y, shown, sign, float(s[shown]), float(end), slope,
                              gaps)]

    def _finding(self, run: RunData, name: str, tname: str | None, x: np.ndarray, y: np.ndarray, b: int,
                 sign: float, best: float, end: float, slope: float,
                 gaps: tuple[float, float, float, float] | None = None) -> Finding:
        """The finding; ``gaps``: train at the best and at the end, the gap at both (None: no training curve)."""
        best_step, last_step = float(x[b]), float(x[-1])
        best_v, end_v = sign * best, sign * end
        lost = abs(end_v - best_v)
        rel = lost / max(abs(best_v), TINY)
        after = len(x) - 1 - b
        what = "rose" if sign > 0 else "fell"
        summary = (
            f"{name} was best at {curves.fmt(best_v)} at {run.when(best_step)}, then {what} to "
            f"{curves.fmt(end_v)} by {run.when(last_step)} ({'+' if sign > 0 else '-'}{rel:.0%})"
        )
        tb = te = gap_best = gap_end = None
        if gaps is not None:
            train_best, train_end, gap_at_best, gap_at_end = gaps
            tb, te, gap_best, gap_end = sign * train_best, sign * train_end, abs(gap_at_best), abs(gap_at_end)
            if gap_at_best * gap_at_end >= 0:
                summary += (f" while {tname} kept improving {curves.fmt(tb)} → {curves.fmt(te)}; the gap widened "
                            f"from {curves.fmt(gap_best)} to {curves.fmt(gap_end)}.")
            else:  # validation was better than training at the best and is worse now: the gap changed sides
                summary += (f" while {tname} kept improving {curves.fmt(tb)} → {curves.fmt(te)}; validation went "
                            f"from {curves.fmt(gap_best)} better than training to {curves.fmt(gap_end)} worse.")
        else:
            summary += (" over a sustained stretch; no training loss is logged, so that training kept improving "
                        "is assumed, not seen.")
        if len(x) < self.smooth_points:
            summary += (f" Only {len(x)} evaluations: likely overfitting, but the evidence is thin; "
                        "evaluate more often to confirm.")
        values = {
            "best_step": best_step,
            "best_epoch": run.epoch_at(best_step),
            "best_value": best_v,
            "final_value": end_v,
            "lost": lost,
            "lost_relative": rel,
            "evaluations_after_best": after,
            "train_at_best": tb,
            "train_final": te,
            "gap_at_best": gap_best,
            "gap_final": gap_end,
            "slope_after_best": slope,  # Theil-Sen: per step, robust to the swings
            "original_name": run.original(name),
            "train_metric": tname,
        }
        marks = (
            {"kind": "vline", "step": best_step, "label": f"best {name} ({run.when(best_step)})"},
            {"kind": "span", "start": best_step, "end": last_step, "label": f"{name} worsening"},
            {"kind": "point", "step": best_step, "value": float(y[b]), "label": "best"},
        )
        return self.finding(
            summary,
            Evidence(name, int(best_step), int(last_step), values, marks),
            self._fixes(run, name, best_step, after),
            title=f"Overfitting since {run.when(best_step)}",
        )

    def _fixes(self, run: RunData, monitor: str, best_step: float, after: int) -> list[Fix]:
        fixes = [
            Fix(
                f"Stop at {run.when(best_step)} and restore the best weights (early stopping)",
                f"the {after} evaluations after the best only made validation worse",
                {"early_stopping.patience": PATIENCE, "early_stopping.monitor": monitor},
            )
        ]
        wd = float(cfg(run, "optim.weight_decay", 0.0) or 0.0)
        fixes.append(
            Fix(
                "Add weight decay (L2)",
                "penalising large weights limits memorisation",
                {"optim.weight_decay": WD_START if wd <= 0 else min(wd * WD_STEP, WD_MAX)},
            )
        )
        dropout = float(cfg(run, "model.dropout", 0.0) or 0.0)
        if dropout < DROPOUT_HIGH:
            fixes.append(
                Fix(
                    "Add dropout (0.3-0.5 on fully connected layers)",
                    "dropping units at random keeps the net from relying on single features",
                    {"model.dropout": DROPOUT_LOW if dropout < DROPOUT_LOW else DROPOUT_HIGH},
                )
            )
        limit = int(cfg(run, "data.train_limit", 0) or 0)
        fixes.append(
            Fix(
                f"Use all the training data (only {limit} samples are used now)" if limit else "Train on more data",
                "more distinct examples are the surest cure for memorisation",
                {"data.train_limit": 0} if limit else None,
            )
        )
        augment = augmentation(data_kind(run))
        if augment is not None:
            fixes.append(augment)
        width = int(cfg(run, "model.width", 0) or 0)
        fixes.append(
            Fix(
                "Use a smaller model",
                "fewer parameters have less room to memorise",
                {"model.width": max(MIN_WIDTH, width // WIDTH_CUT)} if width > SMALL_WIDTH else None,
            )
        )
        return fixes


_THRESHOLDED = re.compile(r"precision|recall", re.IGNORECASE)  # scores one threshold trades against each other


def _neighbour_level(s: np.ndarray, b: int) -> float:
    """The median of the best and its neighbours (``BEST_NEIGHBOURS`` in all): a raw minimum of noisy
    points sits a noise below the level they share. A best at the first evaluation has no neighbour
    before it: the median of it and the next one would be half made of the stretch being judged
    (the worsening itself), so the best stands alone."""
    side = BEST_NEIGHBOURS // 2
    if b < side:
        return float(s[b])
    return float(np.median(s[b - side : b + side + 1]))


def _scatter_about_trend(y: np.ndarray) -> float:
    """The point noise about a curve's Theil-Sen line (the MAD of the residuals, as a standard deviation)."""
    i = np.arange(len(y), dtype=float)
    slope = trend.theil_sen_slope(i, y)
    resid = y - slope * i
    return float(trend.MAD_TO_SD * np.median(np.abs(resid - np.median(resid))))


def _trains(run: RunData) -> bool:
    """Any training curve is logged: a loss of the training family or a train-side score."""
    return bool(epoch_loss(run) or step_loss(run) or other_train_losses(run)
                or any(run.get(partner(name) or "") is not None for name in METRICS))


def _unpartnered_val(run: RunData) -> list[str]:
    """With no val loss paired: the validation errors whose training twin is not logged (``val_mse`` beside a
    ``train_loss``, HF's ``eval_<set>_loss`` for each of several eval sets), losses first. Each is the model's
    error on held-out data, judged against the training loss: rising after its best while training falls is the
    label's "validation stops improving while training does", whatever the error's unit."""
    names = set(run.names)
    found = [n for n in sorted(names) if (r := role(n)).split == "val" and r.better == "lower"
             and r.kind in ("loss", "metric") and partner(n, names) is None]
    return sorted(found, key=lambda n: role(n).kind != "loss")


def _loss_pairs(run: RunData) -> list[tuple[str, Series]]:
    """Every validation loss with a training partner, ``val/loss`` (beside its eval-mode training loss) first."""
    pairs: list[tuple[str, Series]] = []
    if run.get(VAL_LOSS) is not None:
        train = epoch_loss(run) or step_loss(run)
        if train is not None:
            pairs.append((VAL_LOSS, train))
    names = set(run.names)
    for name in sorted(names - {VAL_LOSS}):
        r = role(name)
        if r.split != "val" or r.kind != "loss":
            continue
        other = partner(name, names)
        if other is not None and other != VAL_LOSS and run.get(other) is not None:
            pairs.append((name, run.get(other)))
    return pairs
