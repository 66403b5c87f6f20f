"""Training loss swinging up and down as much as it falls: no steady trend, judged at eval scale."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import appended_segments, cfg, clamp, other_train_losses, scaled_lr
from diagnostics.rundata import RunData, Series
from diagnostics.trend import mann_kendall_p, theil_sen_slope
from traindoc.core.vocabulary import STEP_LOSS, train_losses, words

# ``swing``'s windows (lr_too_high reads the per-step swing through it)
BINS_PER = 10  # points per window when the per-step curve is cut into windows ...
MIN_BINS, MAX_BINS = 5, 400  # ... at least 5 windows (a trend), at most 400 (cost)
MIN_BIN_POINTS = 3  # a window's standard deviation needs three points
TREND_SHARE = 0.3  # the trend of the window means: smoothed over 30% of them (slow moves only)
START_SHARE, START_POINTS = 0.05, 3  # the loss scale's starting level: the first twentieth, >= 3 points
MIN_JUDGED = 3  # windows needed after judge_from
NOISE_MEAN_ABS = 2 / np.sqrt(np.pi)  # E|a - b| for a, b normal with unit sd: sqrt(2) * sqrt(2 / pi)
RATIO_CAP = 1e9  # the ratio reported for a curve that never fell (infinite): JSON needs a number
MIN_TAIL_DIFFS = 3  # the judged part needs three consecutive changes (two turns) to show a back-and-forth
# the fixes' patches
LR_DOWN = 0.3  # smaller steps: about half a decade down
DECAY_GAMMA = 0.96  # ExponentialLR per epoch: the lr halves in about 17 epochs
SMALL_BATCH, BATCH_UP = 64, 4  # below 64 a batch's gradient is noisy; four times as many samples halve it
WARMUP_STEPS = 100  # a short linear ramp (Goyal et al. 2017 use 5 epochs; 100 steps suit small runs)
CLIP_NORM = 1.0  # the usual max gradient norm (transformers' default)


def swing(
    x: np.ndarray, y: np.ndarray, judge_from: float, bins_per: int = BINS_PER
) -> tuple[float, float, float, np.ndarray, np.ndarray] | None:
    """Typical within-window standard deviation of the loss, relative to the loss scale.

    The scale is the larger of the starting level and the trend's range, so a curve
    that crosses zero (a negative loss) does not blow the ratio up. Returns
    (ratio, typical std, scale, window centres, window stds) over the judged part.
    (lr_too_high's measure of the swings after a fast early drop.)
    """
    n = len(y)
    bins = int(np.clip(n // bins_per, MIN_BINS, MAX_BINS))
    if n < bins * MIN_BIN_POINTS:
        return None
    centre, mean, std = curves.binned(x, y, bins)
    trend = curves.smooth(mean, curves.window(bins, TREND_SHARE))
    scale = max(abs(curves.level(y, START_SHARE, end=False, min_n=START_POINTS)), float(np.ptp(trend)))
    if scale <= 0:
        return None
    judged = centre >= x[0] + judge_from * (x[-1] - x[0])
    if judged.sum() < MIN_JUDGED:
        return None
    typical = float(np.median(std[judged]))
    return typical / scale, typical, scale, centre[judged], std[judged]


@dataclass(frozen=True)
class Unsteadiness:
    """How a loss curve moves after ``judge_from``: the share of consecutive changes that reverse
    direction, their mean size, and the curve's overall decrease (its first value minus its lowest)."""

    turns: float
    swing: float
    decrease: float
    reference: float  # the larger of |first value| and the decrease: the loss's own size
    trend_p: float = 1.0  # two-sided Mann-Kendall p-value of the judged part
    trend_move: float = 0.0  # how far its Theil-Sen trend carries the loss across the judged part

    @property
    def ratio(self) -> float:
        """Mean consecutive change over the overall decrease (inf for a curve that never fell)."""
        return self.swing / self.decrease if self.decrease > 0 else float("inf")


def unsteadiness(y: np.ndarray, judge_from: float, trend: np.ndarray | None = None) -> Unsteadiness | None:
    """The back-and-forth of ``y`` after ``judge_from`` against the decrease of ``trend`` (``y`` itself
    by default; the bin means of a per-step curve, whose single steps are too noisy for levels)."""
    trend = y if trend is None else trend
    tail = y[int(len(y) * judge_from):]
    d = np.diff(tail)
    if len(d) < MIN_TAIL_DIFFS or not len(trend):
        return None
    turns = float(np.mean(np.sign(d[1:]) != np.sign(d[:-1])))
    decrease = max(float(trend[0] - trend.min()), 0.0)
    p = min(1.0, 2 * min(mann_kendall_p(tail), mann_kendall_p(-tail)))
    move = abs(theil_sen_slope(np.arange(len(tail), dtype=float), tail)) * (len(tail) - 1)
    return Unsteadiness(turns, float(np.mean(np.abs(d))), decrease, max(abs(float(trend[0])), decrease), p, move)


@register
@dataclass(frozen=True)
class LossOscillation(Rule):
    """What it detects:
    The training loss swings up and down strongly without a steady trend: after the first
    third of training its consecutive changes reverse direction often and are comparable to
    the loss's whole decrease (its first value minus its lowest). This is judged at the scale
    a person reads the curve on: the epoch-level training loss when one is logged (its swings
    are the optimizer's), else the per-step loss reduced to bin means (``step_bins`` of them, and
    half and twice as many: a swing's period is unknown), because ordinary minibatch noise around a
    falling trend is not oscillation. A per-step loss whose
    single steps swing by a large share of its whole decrease (a flat loss bouncing ±40%) is
    oscillation too, and is also judged (beside a steady epoch curve as well). Several
    component losses with no total (a GAN's generator and discriminator, an RL actor and
    critic) oscillate when every one of them does; when one falls steadily, the others' churn
    is the expected balance and only wild swings count (``step_threshold`` of a decrease and
    ``step_swing`` of the loss's size, the single-step bar).
    A diverging loss explains the swings and this finding gives way to ``divergence``; when
    the loss climbs back after a fast early drop, ``lr_too_high`` names the cause beside it.

    Why it matters:
    The steps are too large or too noisy for the loss surface: the optimizer bounces
    across the valley instead of descending it, and the final weights are a lottery.

    Suggested fix:
    Lower the learning rate; add learning-rate decay (ExponentialLR gamma≈0.96/epoch,
    StepLR), even with Adam; warm-up; a larger mini-batch (too small a batch makes the
    loss jitter); gradient clipping.

    Parameters:
    judge_from: share of the curve skipped before judging the swings: the first descent is the
      trend, not a swing (AUTOTRAINER judges after ~30%; a third).
    min_turns: share of consecutive changes that must reverse direction. A steady fall with
      noise reverses rarely at eval scale; random swings reverse about two times in three.
    threshold: mean consecutive change over the overall decrease that counts as "comparable to the
      decrease" (eval-scale curves). Against the intent-free population labels (bench/pop_osc.py) and
      the real logs' calib split, 0.12 keeps every real positive found while 0.08 doubles the
      population's false alarms (noisy falls) and 0.15 loses a real PPO loss swinging around its level.
    min_swing: the mean consecutive change must also be at least this share of the loss's own size
      (|first value|, or the decrease when larger): a flat loss with tiny wiggles is not swinging.
    step_threshold: the same ratio for the raw per-step changes: single steps are noisy by nature,
      so they must swing by well over half the decrease before noise becomes oscillation (a rater
      reads the evaluation scale; 0.4 fired on minibatch noise, 0.6-1.5 score alike on the calib
      splits, and 0.6 keeps a per-step loss jumping +-50 % at every step).
    component_threshold: ``threshold`` for each of several component losses: adversarial and
      actor-critic losses churn by nature (a GAN that trains well swings ~10% of its fall from
      point to point), so every component must swing by a fifth of its decrease.
    step_swing: ``min_swing`` for single steps: a per-step loss must jump by a fifth of its size
      from step to step before it reads as swinging rather than as minibatch noise.
    step_bins: bins a per-step curve is reduced to before the eval-scale test (about the number of
      evaluations a run logs), so minibatch noise averages out.
    step_octaves: a swing's period is unknown, so a per-step curve is judged at ``step_bins`` and at
      this many halvings and doublings of it (10, 20 and 40 bin means by default), coarsest first: a
      slow swing of a few cycles per run turns rarely between 40 bins and shows at 10, a dozen cycles
      blur into 10 bins and show at 40, while minibatch noise around a falling trend averages out at
      all of them (bench/calibrate.py sweeps it: one octave recovers slow swings on the population's
      calib split with no new healthy alarm on any set; two add false positives).
    bin_points: points a bin needs to average minibatch noise; a per-step curve too short for
      ``min_points`` such bins gets the single-step test only.
    max_points: an epoch-level curve longer than this is read as per-step (binned).
    min_points: points a curve needs before it is judged: raters call five or six points too few to
      show a sustained back-and-forth (one dip and recovery is not swinging).
    trend_p: a steady trend after ``judge_from`` vetoes the finding: a Mann-Kendall p-value
      (two-sided) under this (0.01 and 0.05 score alike) ...
    trend_swings: ... whose Theil-Sen trend carries the loss across the judged part by at least this
      many mean consecutive changes. Noise makes a band about four such changes wide: a trend
      crossing it well is "noise around a clearly decreasing trend" (the label guide's false case),
      one inside it is swinging with no steady trend. On the calib splits 5 beats 6 on both sets
      (population precision 0.82 -> 0.86, real logs 0.67 -> 0.75, recall unchanged: a noisy detector
      loss falling steadily in 20 bin means was let through at 6); 4 loses a population positive, 8
      and more let noisy falls through.
    coarse_points: an epoch-level curve with at least this many points a bin is also read as
      ``step_bins`` bin means, as a plot of hundreds of points reads: slow swings whose neighbours
      barely differ show there, and a steady trend there vetoes the noisy single evaluations (0 turns
      it off; 2-3 score alike).
    noise_swings: a per-step curve's bin means must swing by more than this many times what the
      minibatch noise inside the bins makes them swing (the mean change between two means of n noisy
      points: sqrt(2) x sqrt(2 / pi) x the noise / sqrt(n)): bin means of single-sample losses on a
      plateau move by that much with nothing oscillating, and the corpus guide calls minibatch noise no
      oscillation. On the calib splits 1.5 takes real-log precision 0.53 -> 0.64 at unchanged recall (two
      healthy alarms fewer of 130) and costs the population one of 20 positives (a tiny-batch run whose
      steps are pure noise, labelled oscillation by construction); 1.0 keeps both alarms.
    severe: ratio (mean change over decrease) reported as critical.

    References:
    Zhang et al., "AUTOTRAINER" (ICSE 2021), unstable training thresholds; Smith et al.,
    "Don't Decay the Learning Rate, Increase the Batch Size" (2018).
    """

    id = "loss_oscillation"
    order = 80
    title = "Training loss oscillates"
    severity = "warning"
    requires = (("train/loss",),)
    explained_by = ("divergence",)

    judge_from: float = 0.33
    min_turns: float = 0.45
    threshold: float = 0.12
    min_swing: float = 0.05
    step_threshold: float = 0.6
    component_threshold: float = 0.2
    step_swing: float = 0.3
    step_bins: int = 20
    step_octaves: int = 1
    bin_points: int = 5
    max_points: int = 500
    min_points: int = 7
    severe: float = 0.5
    trend_p: float = 0.01
    trend_swings: float = 5.0
    coarse_points: int = 2
    noise_swings: float = 1.5

    def applies(self, run: RunData) -> bool:
        """A training-loss curve long enough to show a back-and-forth: the judged one, or the per-step
        curve beside an epoch curve too short to judge (three epochs of 100 swinging steps)."""
        step = run.get(STEP_LOSS)
        candidates = [*_train_losses(run), *([step] if step is not None else [])]
        return any(np.isfinite(s.values).sum() >= self.min_points for s in candidates)

    def check(self, run: RunData) -> list[Finding]:
        losses = _train_losses(run)
        if len(losses) > 1:  # components with no total (a GAN's G and D, an RL actor and critic)
            found = [self._judge(run, s, self.component_threshold) for s in losses]
            if all(found):  # none falls steadily: the run's loss has no trend
                return found[0]
            # one falls steadily: the others' churn is the expected balance unless it is wild; an adversarial
            # term (a discriminator's or generator's loss) churns by design of the game, wild or not
            strict = (self._judge(run, s, self.step_threshold, self.step_swing) for s in losses
                      if not _ADVERSARIAL.search(" ".join(words(s.name))))
            return next((f for f in strict if f), [])
        found = self._judge(run, losses[0]) if losses else []
        step = run.get(STEP_LOSS)
        if not found and step is not None and all(s is not step for s in losses):
            # the epoch curve is steady: single steps may still swing by much of the decrease
            return self._judge(run, step, self.step_threshold)
        return found

    def _judge(self, run: RunData, series: Series, bar: float | None = None,
               strength: float | None = None) -> list[Finding]:
        """The eval-scale test (a per-step curve's bin means) against ``bar`` and ``strength``
        (``threshold`` and ``min_swing`` by default), then, for a per-step curve, single steps
        against ``step_threshold`` and ``step_swing``."""
        bar = self.threshold if bar is None else bar
        x, y = _before_non_finite(series)
        parts = appended_segments(run, x)
        if len(parts) > 1:  # an appended log: each run or phase swings (or not) on its own
            return next((f for part in parts if (f := self._judge_part(run, series, x[part], y[part], bar,
                                                                         strength))), [])
        return self._judge_part(run, series, x, y, bar, strength)

    def _judge_part(self, run: RunData, series: Series, x: np.ndarray, y: np.ndarray, bar: float,
                    strength: float | None) -> list[Finding]:
        """``_judge`` on one stretch of the curve (the whole run, or one segment of an appended log)."""
        if len(y) < self.min_points:
            return []
        per_step = series.name == STEP_LOSS or len(y) > self.max_points
        if not per_step:
            return self._judge_logged(run, series.name, x, y, bar, strength)
        for bins in self._scales(len(y)):  # coarsest first: a slow swing shows there, a fast one finer
            bx, means, stds = curves.binned(x, y, bins)
            hit = self._test(means, bar, strength)
            if hit is not None and not self._noise_only(hit, stds, len(y) / bins):
                return [self._finding(run, series.name, bx, hit, f"{bins} bin means")]
        middle = min(self.step_bins, len(y) // self.bin_points)  # the single-step test's trend: these bin means
        by = curves.binned(x, y, middle)[1] if middle >= self.min_points else y
        raw = unsteadiness(y, self.judge_from, trend=by)
        if raw is not None and self._passes(raw, self.step_threshold, self.step_swing):
            return [self._finding(run, series.name, x, raw, "single steps")]
        return []

    def _judge_logged(self, run: RunData, name: str, x: np.ndarray, y: np.ndarray, bar: float,
                      strength: float | None) -> list[Finding]:
        """An epoch-level curve as logged and, when long, as ``step_bins`` bin means too: a plot of hundreds
        of points shows slow swings whose neighbours barely differ, and its trend (noise around a steady
        trend there is not oscillation, however much single evaluations jump)."""
        scales = [(x, y, "as logged")]
        if self.coarse_points and len(y) >= self.coarse_points * self.step_bins:
            bx, means, _ = curves.binned(x, y, self.step_bins)
            coarse = unsteadiness(means, self.judge_from)
            if coarse is not None and self._steady(coarse):
                return []
            scales.append((bx, means, f"{self.step_bins} bin means"))
        for sx, sy, scale in scales:
            hit = self._test(sy, bar, strength)
            if hit is not None:
                return [self._finding(run, name, sx, hit, scale)]
        return []

    def _noise_only(self, u: Unsteadiness, stds: np.ndarray, per_bin: float) -> bool:
        """The bin means swing no more than the minibatch noise inside the bins makes them: the mean change
        between two bin means of pure noise is sqrt(2) x (the noise / sqrt(points a bin)) x sqrt(2 / pi);
        swings under ``noise_swings`` times that are noise around a level, not oscillation."""
        judged = stds[int(len(stds) * self.judge_from):]
        expected = NOISE_MEAN_ABS * float(np.median(judged)) / np.sqrt(max(per_bin, 1.0))
        return u.swing < self.noise_swings * expected

    def _scales(self, n: int) -> list[int]:
        """The bin counts a per-step curve of ``n`` points is judged at: ``step_bins`` halved and doubled
        ``step_octaves`` times, each with at least ``bin_points`` points a bin and ``min_points`` bins."""
        wanted = (round(self.step_bins * 2.0 ** k) for k in range(-self.step_octaves, self.step_octaves + 1))
        fits = sorted({min(b, n // self.bin_points) for b in wanted})
        return [b for b in fits if b >= self.min_points]

    def _test(self, y: np.ndarray, threshold: float, strength: float | None = None) -> Unsteadiness | None:
        u = unsteadiness(y, self.judge_from)
        return u if u is not None and self._passes(u, threshold, strength) else None

    def _passes(self, u: Unsteadiness, threshold: float, min_swing: float | None = None) -> bool:
        """Direction reverses often, the swing is strong for the loss's size and comparable to its decrease."""
        strong = (self.min_swing if min_swing is None else min_swing) * u.reference
        return (u.turns >= self.min_turns and u.reference > 0 and u.swing >= strong
                and u.swing >= threshold * u.decrease and not self._steady(u))

    def _steady(self, u: Unsteadiness) -> bool:
        """A significant trend after the first descent that carries the loss across the band its swings
        make: noise around a clear trend, not oscillation."""
        return u.trend_p < self.trend_p and u.trend_move >= self.trend_swings * u.swing

    def _finding(self, run: RunData, name: str, x: np.ndarray, u: Unsteadiness, scale: str) -> Finding:
        """The finding: where the swings start, their size against the decrease, the share of reversals."""
        start = float(x[int(len(x) * self.judge_from)])
        ratio = u.ratio
        versus = (f"{min(ratio, RATIO_CAP):.0%} of its whole decrease ({curves.fmt(u.decrease)})" if u.decrease > 0
                  else "while it never fell below its first value")
        summary = (
            f"{name} swings up and down from {run.when(start)} on ({scale}): its consecutive changes "
            f"average {curves.fmt(u.swing)}, {versus}, and {u.turns:.0%} of them reverse direction: "
            "no steady trend."
        )
        values_ = {"swing": u.swing, "decrease": u.decrease, "swing_over_decrease": min(ratio, RATIO_CAP),
                   "turns": u.turns, "loss_size": u.reference, "scale": scale, "metric_used": name}
        marks = ({"kind": "span", "start": start, "end": float(x[-1]), "label": "oscillating"},)
        severity = "critical" if ratio >= self.severe else "warning"
        return self.finding(summary, Evidence(name, int(start), int(x[-1]), values_, marks), self._fixes(run),
                            severity=severity)

    def _fixes(self, run: RunData) -> list[Fix]:
        fixes = [
            Fix(
                "Lower the learning rate (×0.3)",
                "smaller steps stop the optimizer bouncing across the valley",
                scaled_lr(run, LR_DOWN),
            )
        ]
        if cfg(run, "sched.name", "none") in ("none", "warmup", "noam"):
            fixes.append(
                Fix(
                    "Add learning-rate decay (ExponentialLR, gamma 0.96 per epoch)",
                    "a shrinking step settles the loss late in training, even with Adam",
                    {"sched.name": "exponential", "sched.gamma": DECAY_GAMMA},
                )
            )
        batch = cfg(run, "train.batch_size")
        if batch is None or int(batch) < SMALL_BATCH:
            fixes.append(
                Fix(
                    "Use a larger mini-batch",
                    "tiny batches give noisy gradients and a jittery loss",
                    {"train.batch_size": int(clamp("train.batch_size", int(batch) * BATCH_UP))} if batch else None,
                )
            )
        fixes.append(
            Fix(
                "Warm the learning rate up",
                "a ramp avoids the largest early swings",
                {"sched.name": "warmup", "sched.warmup_steps": WARMUP_STEPS},
            )
        )
        fixes.append(
            Fix("Clip gradients (max norm 1)", "caps the occasional huge step", {"train.clip_grad": CLIP_NORM})
        )
        return fixes


def _train_losses(run: RunData) -> list[Series]:
    """The epoch-level training loss, else every series whose name reads as a training loss."""
    canonical = [s for s in (run.get(n) for n in train_losses("optimizer")) if s is not None]
    if canonical:
        return canonical[:1]
    if run.get(STEP_LOSS) is not None:
        return [run.get(STEP_LOSS)]
    losses = {n: s for n, s in other_train_losses(run).items() if len(s)}
    # a logged total (mean_loss, total_loss) is the loss; its components swing on their own
    totals = [s for n, s in losses.items() if _TOTAL.search(n.lower())]
    return totals[:1] or list(losses.values())


# a GAN's adversarial terms by their usual names (D_loss, loss_G, Dz_loss, disc_loss, gen_adv): two players whose
# losses trade against each other, so their swings are the game, not the optimizer overshooting
_ADVERSARIAL = re.compile(r"(?:^| )(d|g|dz|gz|dis|disc|discriminator|gen|generator|adv|adversarial|gan)(?: |$)")
_TOTAL = re.compile(r"(?:^|[^a-z])(total|mean|sum|overall)(?:[^a-z]|$)")


def _before_non_finite(series: Series) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values before the first NaN/inf: what follows a blow-up is divergence's."""
    ok = np.isfinite(series.values)
    bad = np.flatnonzero(~ok)
    keep = ok if not len(bad) else ok & (np.arange(len(ok)) < bad[0])
    return series.steps[keep].astype(float), series.values[keep].astype(float)
