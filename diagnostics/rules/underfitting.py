"""The model does not even fit the training set."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding
from diagnostics.rules import _no_learning
from diagnostics.rules._common import (
    RL_SCORE,
    chance_classes,
    epoch_loss,
    judge_each_run,
    reinforcement,
    split_accuracy,
    starts_mid_run,
)
from diagnostics.rules._underfit_fixes import fixes, rl_fixes
from diagnostics.rundata import RunData
from diagnostics.trend import diff_noise
from traindoc.core.vocabulary import TRAIN_LOSSES, role

START_SHARE = 0.05  # the starting level: the median of the first twentieth of the per-step curve
END_SHARE = 0.1  # the end level: the median of the last tenth (a level, not the last point)
MIN_END_POINTS = 2  # ... of at least two points
GREW = 1.5  # a loss that ends this many times above its start is diverging, not stuck
RETURN_GAIN = 1.0  # an unbounded score (an RL return) that grew by more than its start learns
STUCK_REPEATS, STUCK_DECIMALS = 0.5, 4  # a val accuracy equal (to 4 decimals) in half its evaluations repeats
LOST_Z = 3.0  # a low this many noise sigmas of the smoothed curve below the start was reached, not a wobble
FIRST_Z = 3.5  # a first value this many noise sigmas above the early level is the initial loss (Iglewicz-Hoaglin)
THIRDS = 4  # _levelled compares the progress of the run's three thirds: four cut points
CHANCE_EXPLAINS = ("overfitting",)  # what a training loss sitting at chance explains away


@register
@dataclass(frozen=True)
class Underfitting(Rule):
    """What it detects:
    The training loss stays high or barely falls (or sits at ln K, the loss of a uniform
    guess over K classes), training accuracy stays near chance, and validation tracks
    training (once the loss has levelled off). A slow straight-line fall is underfitting by
    its numbers: ``lr_too_low`` fires beside it and names the cause. A NaN that ends a run
    whose finite loss never fell does not hide it (nor does the blow-up leading into the NaN);
    a run that learned and then lost it (its loss climbed back from a clearly lower level, with
    or without a NaN) is divergence or an unstable run, not this. A stall right where the
    configured lr schedule collapsed is reported as plateau (on an imported log, where the collapse
    is only a hint, this verdict stands); vanishing or exploding gradients, dead ReLUs, a
    dominating Adam epsilon or a too-high lr explain it better when they fire. An appended log
    (several runs in one file) is judged run by run: one run of a sweep that never learned is found.

    Why it matters:
    A model that cannot fit the training data cannot generalise either; regularising
    it further (or training a deeper net that is harder to optimise) makes it worse.
    A 56-layer net worse than a 20-layer one on the training set is under-trained, not overfit.

    Suggested fix:
    Remove excess regularisation (one seed's weight decay of 5e-4 took test AUC from
    0.88 to 0.68); ReLU instead of sigmoid in deep nets; train longer; raise the
    learning rate; a bigger model; residual connections; check labels and inputs.

    The statistic is the relative drop from the early level (the median of the first twentieth)
    to the end level (the median of the last tenth), compared with ``max_drop``; thresholds
    calibrated with bench/calibrate.py.

    Parameters:
    min_points: points of the training-loss curve needed before judging.
    max_drop: the loss counts as barely falling when it fell less than this share of its start; a
      loss that fell more but stops short of fitted with validation just as good (no gap) is a
      plateau at a mediocre level: reported at info, a hint of high bias, not a verdict. 0.12 for the
      label's "~10%" (the calib sweep's 0.15 is argued and measured in docs/accuracy.md).
    chance_tol: relative distance from ln K that counts as "at chance".
    chance_acc_margin: train accuracy within this of 1/K counts as chance (an accuracy by any
      writer's name: Keras' ``sparse_categorical_accuracy`` is one).
    fitted_loss: an end loss below this is considered fitted whatever the drop, when an accuracy is
      logged (a classifier: a cross-entropy this low puts about 90% on the right class); without one the
      loss may be a regression's, whose level is in its target's units and says nothing: the relative
      fall judges it.
    fitted_acc: a train accuracy at or above this is considered fitted.
    max_acc_gap: below fitted_acc, train and val accuracy this close (no generalisation gap) is high bias...
    still_falling: ... once the loss has levelled off: its last third brought at most this share of the
      progress of its fastest third (a loss still falling steeply is an unfinished run: train longer).
    chance_max_drop: "at ln K" counts only for a loss that fell less than this share, and, with no
      accuracy logged, only when it also started at the same ln K: almost any loss between 1.8 and
      10 lies within 3% of some ln K, so a loss that merely ends near one is no evidence.
    learning_gain: a bounded higher-is-better metric (accuracy, F1, AUC, mAP, by ``role``) whose
      error fell by this share (or an unbounded score such as an RL return that more than
      doubled), judged on its smoothed curve (one lucky evaluation is noise), shows the model
      learns: a barely-falling loss then has a large constant floor (a ranking loss), not
      underfitting.
    first_drop: a loss that fell at least this share from its very first logged value (the loss at
      initialisation: the label's "falls < ~10% over the whole run" reads from there), levelled off,
      and has no accuracy logged (a pretrained model converging looks the same) is reported at info;
      one that moved less from its first value never learned: a warning. (The early level, a median,
      judges the drop elsewhere: a noisy first step must not decide a verdict, only soften one.)
    min_chance_points: a loss that started at a uniform guess (ln K, below) is judged from this many
      points: three evaluations of a K-class loss that barely left ln K are evidence already.
    track_tol: a training loss whose end level is not within ``chance_tol`` of ln K is still at chance when
      the val loss ends there and within this share of it (the val loss tracks training: the same loss on
      fixed weights, steadier than the last epochs of a short run's training loss); an accuracy near 1/K
      (or a start at the same ln K) must confirm it, as for the training loss.
    min_return_points: an RL run's episode return is judged from this many evaluations (a trend test
      on fewer has no power).
    max_return_p: an RL run whose every return curve (not its std, max or min) has a one-sided
      Mann-Kendall p-value of a rise above this never improved: underfitting, judged on the return
      because a policy loss is a surrogate, not a fit (on the calib splits every learning RL run has
      p < 0.05 on its return, every one raters call unlearned p > 0.19).
    distinct_classes: a loss that starts within ``chance_tol`` of ln K counts as a uniform guess by
      itself only for K up to this (ln 2..ln 4 stand apart; above, the bands of neighbouring K cover
      most losses); for more classes an accuracy that started near 1/K must confirm it. Such a loss is
      a cross-entropy whose floor is near zero: a metric that learns does not excuse its small fall
      (that excuse is for a loss with a large constant floor), and a constant line at ln K is a
      network stuck at chance, not a placeholder.
    overlap_floor: a detector's or segmenter's overlap score (mAP, IoU, Dice: 0 is "found nothing", whatever
      the class count) whose smoothed best over at least ``min_points`` evaluations stays below this found next
      to nothing: underfitting whatever the loss did (its box loss falls on anchors that match no object).
      Accuracy, precision and recall are not read so (a majority-class rate sits far above 0).
    stuck_acc_range: a train and a val accuracy whose whole ranges (max - min) over at least ``min_points``
      evaluations stay within this, short of ``fitted_acc``, with the val accuracy repeating one value in half its
      evaluations, never moved: the classifier predicts the same thing (the majority class) throughout, the
      label's "train accuracy stays near chance" where K is unknown; it counts for a loss that fell less than
      ``chance_max_drop``, as ln K does. (A val accuracy alone proves nothing: flat at chance beside a fitted
      training loss is overfitting.)

    References:
    He et al., "Deep Residual Learning" (2015), fig. 1 (deeper is worse on the training set);
    Goodfellow et al., Deep Learning, ch. 5.2 (capacity, under- and overfitting).
    """

    id = "underfitting"
    order = 140
    title = "Underfitting: the training set is not fitted"
    severity = "warning"
    requires = (TRAIN_LOSSES,)
    # not lr_too_low (a loss falling a few percent in a straight line is underfitting by its numbers;
    # lr_too_low names the cause beside it) nor divergence (a NaN that ends a run that never learned
    # leaves it unfitted: the finite part is judged, and a run that learned before blowing up is not)
    explained_by = (
        "vanishing_gradients",
        "epsilon_sensitivity",
        "lr_too_high",
        "exploding_gradients",
        "dead_relu",
    )

    min_points: int = 5
    max_drop: float = 0.12
    chance_tol: float = 0.03
    chance_acc_margin: float = 0.05
    fitted_loss: float = 0.1
    fitted_acc: float = 0.9
    max_acc_gap: float = 0.03
    still_falling: float = 0.3
    chance_max_drop: float = 0.25
    learning_gain: float = 0.3
    first_drop: float = 0.1
    min_chance_points: int = 3
    distinct_classes: int = 4
    track_tol: float = 0.1
    min_return_points: int = 10
    max_return_p: float = 0.05
    overlap_floor: float = 0.05
    stuck_acc_range: float = 0.03

    def check(self, run: RunData) -> list[Finding]:
        if found := self._return_flat(run):
            return found
        by_loss = self._by_runs(run)
        if any(f.severity != "info" for f in by_loss):
            return by_loss
        return self._found_nothing(run) or by_loss

    def _return_flat(self, run: RunData) -> list[Finding]:
        """An RL run (one that logs its training loss: a log of returns alone has nothing the label reads) whose
        every episode-return curve shows no rising trend (one-sided Mann-Kendall p above ``max_return_p``): the
        policy never improved on where it started, whatever its losses did (a policy loss is a surrogate)."""
        flat = _no_learning.flat_returns(run, self.min_return_points, self.max_return_p) if reinforcement(run) else None
        if flat is None:
            return []
        main, p = flat
        x, y = curves.reduce(*main.finite())
        start = curves.level(y, END_SHARE, end=False, min_n=MIN_END_POINTS)
        end = curves.level(y, END_SHARE, end=True, min_n=MIN_END_POINTS)
        summary = (f"{main.name} shows no rising trend over {len(y)} evaluations (from {curves.fmt(start)} to "
                   f"{curves.fmt(end)}; Mann-Kendall p = {p:.2f}): the policy never improved on "
                   "where it started.")
        values = {"start_return": start, "final_return": end, "trend_p": p, "metric_used": main.name,
                  "chance_classes": None}
        marks = ({"kind": "span", "start": float(x[0]), "end": float(x[-1]), "label": "return does not rise"},)
        return [self.finding(summary, Evidence(main.name, int(x[0]), int(x[-1]), values, marks), rl_fixes(run),
                             title="Underfitting: the policy does not improve")]

    def _found_nothing(self, run: RunData) -> list[Finding]:
        """A detector or segmenter whose every overlap score (mAP, IoU, Dice) stayed below ``overlap_floor``:
        it found nothing all run, whatever its losses did (a box loss falls on anchors that match no object)."""
        floor = _no_learning.overlap_floor(run, self.min_points, self.overlap_floor)
        if floor is None:
            return []
        main, top = floor
        loss = epoch_loss(run) or run.get("train/loss")
        if loss is not None and _no_learning.climbing(main):
            # a score climbing off the floor beside a loss still falling steeply is an unfinished run
            lx, ly = curves.reduce(*loss.finite())
            if len(ly) >= self.min_points and not self._levelled(lx, ly):
                return []
        x, y = main.finite()
        summary = (f"{main.name} never left the floor: its best (smoothed) was {curves.fmt(top)} over {len(y)} "
                   "evaluations, so the model found next to nothing, whatever its losses did.")
        values = {"best_score": top, "final_score": float(y[-1]), "metric_used": main.name, "chance_classes": None}
        marks = ({"kind": "span", "start": float(x[0]), "end": float(x[-1]), "label": "score stays at the floor"},)
        return [self.finding(summary, Evidence(main.name, int(x[0]), int(x[-1]), values, marks), fixes(run),
                             title="Underfitting: the model finds nothing")]

    def _by_runs(self, run: RunData) -> list[Finding]:
        """An appended log (several runs in one file) is judged run by run: a run that sits at chance is
        underfitting whatever the others did, and a restart's jump back up is no rise of the loss. One run
        among many counts only at chance: a short run that merely fell little is a weak sign, and the more
        runs a log appends, the surer one of them shows it by chance."""
        series = epoch_loss(run) or run.get("train/loss")
        if series is None:
            return []
        found = judge_each_run(run, series, self._check_one,
                               keep=lambda f: f.evidence.values.get("chance_classes") is not None)
        return self._check_one(run) if found is None else found

    def _check_one(self, run: RunData) -> list[Finding]:
        per_step, per_epoch = run.get("train/loss"), epoch_loss(run)
        series = per_epoch or per_step
        fx, fy = series.finite()
        blew_up = bool(len(fy)) and not np.isfinite(series.values[-1])
        if blew_up:
            # a NaN that ends the run: judge the calm loss before the blow-up that led into it (a run that
            # never learned and then blew up is unfitted as well as divergent); the isolated spikes before it
            # are the instability's too, not the loss's level, and would lift the start level they fall in
            calm = fy <= GREW * curves.level(fy, START_SHARE, end=False, min_n=1)
            fx, fy = (fx[calm], fy[calm]) if calm.any() else (fx, fy)
        ex, ey = curves.reduce(fx, fy)
        if len(ey) < min(self.min_points, self.min_chance_points):
            return []
        # the start on the per-step curve (an epoch mean already hides the first steps' fall), but only
        # when that curve is the finer one and begins no later: a per-step loss logged once at the end
        # (a summary row) says nothing about where the run started
        sx, sy = ex, ey
        if per_step is not None and per_step is not series:
            px, py = curves.reduce(*per_step.finite())
            if len(py) > len(ey) and px[0] <= ex[0]:
                sx, sy = px, py
        # the first value counts when it stands above the early level: the loss at initialisation, whose fall in
        # the first logging interval is learning (a median of the early points would hide it)
        start = curves.level(sy, START_SHARE, end=False, min_n=1)
        end = curves.level(ey, END_SHARE, end=True, min_n=MIN_END_POINTS)
        if not start > 0 or end > GREW * start:
            return []
        acc, val_acc = split_accuracy(run, "train"), split_accuracy(run, "val")
        if end < self.fitted_loss and (len(acc) or len(val_acc)):
            return []  # a classifier's cross-entropy this low is fitted; a regression loss's scale is its units'
        # a K-class cross-entropy that started at the uniform guess: its floor is near zero, so neither
        # a metric that learns (no large constant floor to explain a small fall) nor a short run hides it
        uniform = self._uniform_start(start, acc if len(acc) else val_acc)
        if len(ey) < (self.min_chance_points if uniform else self.min_points):
            return []
        if np.ptp(ey) == 0 and uniform is None:
            return []  # a constant line is a placeholder, not a curve, unless it sits at a uniform guess
        final_acc = curves.level(acc, END_SHARE, end=True, min_n=1) if len(acc) else None
        if final_acc is not None and final_acc >= self.fitted_acc:
            return []
        drop = (start - end) / start
        # the lowest level reached: a run that learned and then lost it (blew up, or climbed back under
        # too high an lr) is not unfitted, whether or not it ended in a NaN
        window = curves.window(len(ey), END_SHARE)
        low = float(curves.smooth(ey, window).min())
        # ... a low that stands clear of the smoothed curve's noise: the lowest dip of a noisy flat loss is no fit
        clear = start - low > LOST_Z * diff_noise(ey) / math.sqrt(window)
        learned_then_lost = (start - low) / start >= self.max_drop and end - low > self.max_drop * start and clear
        learns = uniform is None and self._learns(run)
        # at ln K by the training loss, else by the val loss where it tracks training: the same cross-entropy
        # on fixed weights, without dropout's or augmentation's noise (a short run's last epochs swing)
        k = chance_classes(end, self.chance_tol) or self._val_at_chance(run, end)
        acc_seen = final_acc if final_acc is not None else (
            curves.level(val_acc, END_SHARE, end=True, min_n=1) if len(val_acc) else None)
        # at ln K: with an accuracy, it must sit near 1/K; without one, the loss must have started at
        # the same ln K (it sat there throughout): a loss that merely ends near some ln K is common
        # (an accuracy that never left 1/K beside a loss at ln K is chance however far the loss fell to get
        # there: a first epoch that blew up and collapsed onto the uniform guess; one that moved, at a K the
        # loss only happens to sit near, is not)
        acc_curve = acc if len(acc) else val_acc
        at_chance = k is not None and (
            acc_seen <= 1 / k + self.chance_acc_margin
            and (drop < self.chance_max_drop or np.ptp(acc_curve) <= 2 * self.chance_acc_margin)
            if acc_seen is not None
            else drop < self.chance_max_drop and chance_classes(start, self.chance_tol) == k)
        stuck = k is None and drop < self.chance_max_drop and self._acc_stuck(acc, val_acc)
        if learned_then_lost:
            return []
        # no generalisation gap says high bias only once the loss has levelled off: a loss still
        # falling steeply is an unfinished run, not one that cannot fit
        no_gap = self._no_gap(run, final_acc) and self._levelled(ex, ey)
        at_chance = at_chance or stuck
        if learns:  # a loss with a large constant floor: the metrics show learning
            at_chance = False
        if (drop >= self.max_drop or learns) and not at_chance and not no_gap:
            return []
        first, last = float(min(sx[0], ex[0])), float(ex[-1])
        parts = [
            f"training loss went from {curves.fmt(start)} to {curves.fmt(end)} "
            f"({abs(drop):.0%} {'lower' if drop >= 0 else 'higher'}) by {run.when(last)}"
        ]
        k = k if at_chance else None  # a loss that merely ends near some ln K is not at chance
        if k is not None:
            parts.append(
                f"it sits at ln {k} = {math.log(k):.3g}, the loss of a uniform guess over {k} classes"
            )
        if final_acc is not None and stuck and at_chance:
            parts.append(f"train accuracy never moved: {acc.min():.3f} to {acc.max():.3f} over {len(acc)} "
                         "evaluations, the model predicts the same thing throughout")
        elif final_acc is not None:
            parts.append(f"train accuracy {final_acc:.2f}" + (f" (chance {1 / k:.2f})" if k else ""))
        vx, vy = curves.finite(run.get("val/loss"))
        if len(vy):
            parts.append(f"val loss {curves.fmt(curves.level(vy, END_SHARE, end=True))} tracks it")
        if no_gap and final_acc is not None:
            parts.append(
                f"train accuracy stops at {final_acc:.2f} with validation just as good: "
                "high bias, not overfitting"
            )
        values = {
            "start_loss": start,
            "final_loss": end,
            "relative_drop": drop,
            "chance_classes": k,
            "final_train_acc": final_acc,
            "metric_used": series.name,
        }
        marks = ({"kind": "hline", "value": float(math.log(k)), "label": f"ln {k} (chance)"},) if k else ()
        marks += ({"kind": "span", "start": first, "end": last, "label": "training loss stays high"},)
        summary = "; ".join(parts) + "."
        # a plateau at a mediocre level after a large decrease (no gap, the loss fell well) is a
        # weak sign of high bias: a hint, not a verdict
        weak = drop >= self.max_drop and not at_chance
        # a small fall that levelled off early, with no accuracy to show the model stuck: a
        # converging fine-tune of a pretrained model looks the same; a hint, not a verdict (but a run
        # that ended in a NaN did not converge: that excuse is gone)
        # from the first value only when it stands clear of the curve's noise: the loss at initialisation
        # before a fast early fall, not one noisy minibatch
        stands_out = ey[0] - start > FIRST_Z * diff_noise(ey) and ey[0] > 0
        first_fall = (float(ey[0]) - end) / float(ey[0]) if stands_out else drop
        converged = (not weak and not at_chance and not blew_up and acc_seen is None and first_fall >= self.first_drop
                     and self._levelled(ex, ey))
        # a log that starts well into training (a capture of a resumed run, epoch 16 on) misses the fall
        # before it: its small fall is no verdict on the whole run
        unseen = not weak and not at_chance and not converged and starts_mid_run(series)
        if weak:
            summary += " The loss did fall a lot, so this is a hint of high bias, not a verdict."
        elif unseen:
            summary += (f" The log starts at epoch {series.epochs[0]:g}: the training before it is not in it, "
                        "so this is a hint, not a verdict.")
        elif converged:
            summary += (" It fell early and then levelled off, and no accuracy is logged: a pretrained model "
                        "converging looks the same, so this is a hint, not a verdict.")
        return [
            self.finding(
                summary[0].upper() + summary[1:],
                Evidence(series.name, int(first), int(last), values, marks),
                fixes(run),
                severity="info" if weak or converged or unseen else None,
                # a training loss at chance never fitted anything: a val loss rising beside it is not memorisation
                explains=CHANCE_EXPLAINS if k is not None or (stuck and at_chance) else (),
            )
        ]

    def _uniform_start(self, start: float, acc: np.ndarray) -> int | None:
        """K when the loss started at ln K, a uniform guess over K classes: an accuracy that started near
        1/K confirms it; with none, only ``distinct_classes`` or fewer (their ln K stand apart)."""
        k = chance_classes(start, self.chance_tol)
        if k is None:
            return None
        if k <= self.distinct_classes:
            return k
        if len(acc) and curves.level(acc, START_SHARE, end=False, min_n=1) <= 1 / k + self.chance_acc_margin:
            return k
        return None

    def _acc_stuck(self, acc: np.ndarray, val_acc: np.ndarray) -> bool:
        """The train and val accuracies never moved, short of fitted, and the val accuracy repeats one value in
        ``STUCK_REPEATS`` of its evaluations or more: one class predicted every time (a fine-tune that is merely
        converged moves its val accuracy by a sample or two between evaluations)."""
        if len(acc) < self.min_points or len(val_acc) < self.min_points:
            return False
        if not all(np.ptp(a) <= self.stuck_acc_range and a.max() < self.fitted_acc for a in (acc, val_acc)):
            return False
        _, counts = np.unique(np.round(val_acc, STUCK_DECIMALS), return_counts=True)
        return counts.max() >= STUCK_REPEATS * len(val_acc)

    def _val_at_chance(self, run: RunData, end: float) -> int | None:
        """K when the val loss ends at ln K and within ``track_tol`` of the training loss's end level."""
        _, vy = curves.finite(run.get("val/loss"))
        if len(vy) < MIN_END_POINTS:
            return None
        val_end = curves.level(vy, END_SHARE, end=True, min_n=MIN_END_POINTS)
        if abs(val_end - end) > self.track_tol * end:
            return None
        return chance_classes(val_end, self.chance_tol)

    def _learns(self, run: RunData) -> bool:
        """A bounded higher-is-better metric (accuracy, F1, AUC, mAP) whose error fell by ``learning_gain``."""
        for name, series in run.series.items():
            r = role(name)
            if r.better != "higher" or r.kind != "metric" or len(series) < self.min_points:
                continue
            _, y = series.finite()
            if not len(y):
                continue
            start = min(float(y[0]), curves.level(y, END_SHARE, end=False, min_n=1))
            # the best the metric held, on its smoothed curve: one lucky evaluation is noise, not learning
            top = float(curves.smooth(y, curves.window(len(y), END_SHARE)).max())
            if y.min() >= 0 and y.max() <= 1:  # bounded: judge the error (0.90 -> 0.95 halves it)
                first, best = 1 - start, 1 - top
                if first > 0 and (first - best) / first >= self.learning_gain:
                    return True
            elif RL_SCORE.search(name.lower()) and abs(start) > 0 and (top - start) / abs(start) >= RETURN_GAIN:
                return True  # an unbounded score (an RL return) that more than doubled its start
        return False

    def _levelled(self, x: np.ndarray, y: np.ndarray) -> bool:
        """The last third of the run brought at most ``still_falling`` of the progress of its fastest third."""
        sy = curves.smooth(y, curves.window(len(y), END_SHARE))
        at = np.interp(np.linspace(x[0], x[-1], THIRDS), x, sy)
        drops = at[:-1] - at[1:]
        fastest = float(drops.max())
        return fastest <= 0 or drops[-1] <= self.still_falling * fastest

    def _no_gap(self, run: RunData, final_acc: float | None) -> bool:
        """High bias: train accuracy short of fitted and validation just as good (no generalisation gap)."""
        val_acc = split_accuracy(run, "val")
        if final_acc is None or not len(val_acc):
            return False
        return abs(curves.level(val_acc, END_SHARE, end=True, min_n=1) - final_acc) <= self.max_acc_gap

