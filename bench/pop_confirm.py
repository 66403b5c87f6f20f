"""Labels confirmed by the numbers a run wrote, with a severity measured from them.

``bench/fault_logs.confirm`` says whether one intended label shows in a pair of curves (its
healthy test is reused here); this module
judges every label on the curves a generated run recorded (per-evaluation train and val losses,
the per-step train losses when logged, the val accuracy) so a run is labelled by what it shows:
its intended fault when it shows (with a severity measured from the curve), any other fault it
shows clearly as well, healthy when it shows nothing, and dropped (with the reason) when it is
neither clearly faulty nor clearly healthy. Losses that may be negative (a Gaussian NLL) are
judged above the family's floor, so ratios mean the same for every family (oscillation excepted: it reads the
numbers as written, as a rater does).

Oscillation is judged without intent (``oscillation``): the numbers alone decide it on every run,
as the corpus label guide reads it, with a borderline band left unlabelled (None).
``bench/pop_osc.py`` re-labels an existing index's oscillation this way without retraining.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bench.fault_logs import confirm as pair_confirm
from bench.pop_models import ALPHABET, CLASSES
from diagnostics.trend import mann_kendall_p, theil_sen_slope

GAUSS_FLOOR = -1.5  # below the Gaussian NLL any model reaches here (the noise floor is about -1.15)
GAUSS_CHANCE = 1.65  # a constant predictor's NLL above the floor (variance of y about 0.5)
CHARLM_FLOOR = 0.3  # the generated text's entropy per character, about: no model gets below it
CHANCE_SHARE = 0.65  # train loss still above this share of chance: the model has barely learned
# overfitting: val ends this far above its best (relative, above the floor) ...
OVERFIT_GAP = (0.08, 0.2, 0.6)  # mild, clear, severe
OVERFIT_BEST_BY = 0.8  # ... with the best val at most this far through the run
OVERFIT_TRAIN_FALL = 0.7  # ... while train ends below this share of its start
# underfitting: train ends above this share of its start (mild, clear, severe) and near chance
UNDERFIT_LEFT = (0.85, 0.92, 0.98)
UNDERFIT_NEVER = 0.7  # ... and never went below this share of its end: a loss that fell and came back learned
# oscillation, as a rater reads it (the corpus guide: "the training loss swings strongly up and down,
# consecutive changes comparable to its overall decrease, without a steady trend"), judged on the
# per-evaluation training loss (a per-step loss's bin means at the evaluation cadence) after its first
# descent, whatever fault the run was meant to show:
OSC_MIN_POINTS = 7  # fewer evaluations cannot show a sustained back-and-forth (raters call 5 and 6 "too few")
OSC_FROM = 1 / 3  # the first third is the first descent: the trend, not a swing
# share of consecutive changes reversing direction: steady falls reverse rarely, noise two in three;
# under the first cut clearly not swinging, from the second clearly
OSC_TURNS = (0.3, 0.4)
# mean consecutive change over the overall decrease (first value minus lowest): "comparable" from a
# quarter (clear), not comparable below a tenth; between is borderline and left unlabelled (None)
OSC_RATIO = (0.1, 0.25)
# ... and over the loss's own size (|first value| as written, or the decrease when larger): a flat loss wiggling by
# a few percent is minibatch noise, not swings (raters call +-5-10 % of the level noise: borderline);
# below the first cut clearly not, from the second clearly
OSC_SIZE = (0.05, 0.1)
# a Mann-Kendall trend after the first descent this significant (p under the first cut is clear, under
# the second a possible trend) ...
OSC_TREND_P = (0.01, 0.05)
# ... that moves the loss across the judged part by this many typical changes is a steady trend (clear
# from the second; minibatch noise makes a band about four typical changes wide: a trend that crosses
# it reads as steady, one that stays inside it does not)
OSC_TREND_OVER_SWING = (3.0, 6.0)
OSC_COARSE = 20  # a long curve is also read as this many bin means (about what a plot resolves) ...
OSC_COARSE_FROM = 2  # ... when it has at least this many points per bin
OSC_GRADE = (0.25, 0.5, 1.0)  # severity of a clear oscillation by its ratio: mild, clear, severe
# divergence: a per-step or per-evaluation loss this many times its running level
SPIKE_RATIO = (10.0, 1e3, 1e6)
SPIKE_WINDOW = 10  # the running level is the median of this many preceding points
RISE_SMOOTH = 5  # the climb back from the best is measured on a running median of this many points
SPIKE_FLOOR = 0.05  # ... and never below this share of the opening level (near-zero losses make any ratio big)
# val better than train: share of the second half with val below train, and the mean relative gap
VBT_SHARE = 0.8
VBT_GAP = (0.0, 0.05, 0.2)
HEALTHY_FALL = 0.5  # a healthy train loss ends below half its start (above the floor)
HEALTHY_BEST_FROM = 0.6  # ... its val best comes late
HEALTHY_END_OVER_BEST = 1.1  # ... and val ends within 10 % of it
HEALTHY_PLATEAU = 1.05  # or val has levelled off: an early best the end is within 5 % of (no rise)


@dataclass
class Verdict:
    """The labels a run's numbers show, the measured severity of its main one, notes on anything else."""

    labels: dict[str, bool]
    severity: str
    main: str | None
    dropped: str | None = None
    notes: list[str] = field(default_factory=list)


def _grade(x: float, cuts: tuple[float, float, float]) -> str | None:
    """'mild'/'clear'/'severe' for ``x`` against increasing cuts; None below the first."""
    if x >= cuts[2]:
        return "severe"
    if x >= cuts[1]:
        return "clear"
    return "mild" if x >= cuts[0] else None


def chance(family: str) -> float:
    """The loss of a model that learned nothing, above the family's floor."""
    if family == "gaussnll":
        return GAUSS_CHANCE
    if family == "charlm":
        return math.log(len(ALPHABET)) - CHARLM_FLOOR
    return math.log(CLASSES)


def floor(family: str) -> float:
    """The loss no model of the family gets below; curves are judged above it."""
    return {"gaussnll": GAUSS_FLOOR, "charlm": CHARLM_FLOOR}.get(family, 0.0)


def _shift(family: str, xs: list[float]) -> np.ndarray:
    return np.asarray(xs, dtype=float) - floor(family)


def spike_ratio(xs: np.ndarray) -> float:
    """The largest point over the median of the ``SPIKE_WINDOW`` points before it (floored), 0 if too short."""
    opening = float(np.median(xs[:SPIKE_WINDOW])) if len(xs) else 0.0  # robust to a first point that spiked
    if len(xs) < 4 or not np.isfinite(xs).all() or opening <= 0:
        return 0.0
    level_floor = SPIKE_FLOOR * opening
    worst = 0.0
    for i in range(1, len(xs)):
        level = max(float(np.median(xs[max(0, i - SPIKE_WINDOW):i])), level_floor)
        worst = max(worst, float(xs[i]) / level)
    return worst


def _resample(xs: np.ndarray, n: int) -> np.ndarray:
    if len(xs) == n:
        return xs
    return xs[np.round(np.linspace(0, len(xs) - 1, n)).astype(int)]


def overfitting(tr: np.ndarray, va: np.ndarray) -> str | None:
    best = int(np.argmin(va))
    if best > OVERFIT_BEST_BY * (len(va) - 1) or tr[-1] >= OVERFIT_TRAIN_FALL * tr[0] or va[best] <= 0:
        return None
    return _grade(va[-1] / va[best] - 1, OVERFIT_GAP)


def underfitting(tr: np.ndarray, family: str) -> str | None:
    if tr[-1] < CHANCE_SHARE * chance(family) or tr[0] <= 0 or np.min(tr) < UNDERFIT_NEVER * tr[-1]:
        return None
    return _grade(tr[-1] / tr[0], UNDERFIT_LEFT)


@dataclass(frozen=True)
class OscStats:
    """The numbers the oscillation label reads at one scale (see ``oscillation``)."""

    n: int
    turns: float  # share of consecutive changes after the first descent that reverse direction
    ratio: float  # their typical size over the overall decrease (inf when the loss never fell)
    size: float  # their typical size over the loss's own size
    trend_p: float  # two-sided Mann-Kendall p-value of the judged part
    trend_over_swing: float  # the Theil-Sen trend's move across the judged part over the typical change


def osc_stats(y: np.ndarray) -> OscStats | None:
    """``oscillation``'s statistic on one curve (finite, as written: no family floor, which a rater reading
    the file does not know); None if too short to judge."""
    if len(y) < OSC_MIN_POINTS:
        return None
    tail = y[int(len(y) * OSC_FROM):]
    d = np.diff(tail)
    swing = float(np.mean(np.abs(d)))  # the mean absolute change, as raters measure it
    decrease = max(float(y[0] - y.min()), 0.0)
    turns = float(np.mean(np.sign(d[1:]) != np.sign(d[:-1])))
    p = 2 * min(mann_kendall_p(tail), mann_kendall_p(-tail))
    move = abs(theil_sen_slope(np.arange(len(tail), dtype=float), tail)) * (len(tail) - 1)
    size = max(abs(float(y[0])), decrease)
    if size <= 0:
        return None
    return OscStats(len(y), turns, swing / decrease if decrease > 0 else math.inf,
                    swing / size, min(p, 1.0), move / swing if swing > 0 else math.inf)


def osc_scales(tr: np.ndarray) -> list[np.ndarray]:
    """The curves a rater reads: the training loss as logged (its finite prefix: what follows a NaN is
    divergence's) and, for a long one, its means in ``OSC_COARSE`` bins (a plot of hundreds of points
    shows slow swings whose neighbouring points barely differ)."""
    y = np.asarray(tr, dtype=float)
    bad = np.flatnonzero(~np.isfinite(y))
    y = y[:bad[0]] if len(bad) else y
    if len(y) < OSC_COARSE * OSC_COARSE_FROM:
        return [y]
    edges = np.linspace(0, len(y), OSC_COARSE + 1).round().astype(int)
    return [y, np.array([y[i:j].mean() for i, j in zip(edges[:-1], edges[1:], strict=True)])]


def _steady(st: OscStats) -> bool:
    """A clear trend after the first descent: significant and crossing the band of the swings."""
    return st.trend_p < OSC_TREND_P[0] and st.trend_over_swing >= OSC_TREND_OVER_SWING[1]


def _osc_one(st: OscStats | None) -> bool | None:
    """One scale's call: True (clear), False (clearly not) or None (borderline)."""
    if st is None:
        return False
    if st.turns < OSC_TURNS[0] or st.ratio < OSC_RATIO[0] or st.size < OSC_SIZE[0] or _steady(st):
        return False
    trend = st.trend_p < OSC_TREND_P[1] and st.trend_over_swing >= OSC_TREND_OVER_SWING[0]
    clear = st.turns >= OSC_TURNS[1] and st.ratio >= OSC_RATIO[1] and st.size >= OSC_SIZE[1]
    return True if clear and not trend else None


def oscillation(tr: np.ndarray) -> bool | None:
    """True when the training loss swings strongly without a steady trend, False when it clearly does
    not, None when borderline (left unlabelled: neither a positive nor a negative to score against).

    Intent-free: the numbers decide, whatever fault the run was meant to show. Clear at a scale
    (``osc_scales``): direction reverses often, the mean consecutive change is at least
    ``OSC_RATIO[1]`` of the overall decrease and ``OSC_SIZE[1]`` of the loss's size, and no
    significant trend carries the loss further than ``OSC_TREND_OVER_SWING[0]`` mean changes. Clearly
    not: a short run, a curve that rarely reverses, changes under ``OSC_RATIO[0]`` of the decrease or
    ``OSC_SIZE[0]`` of the size, or a steady trend. A long curve's bin means show its trend as a plot
    does: a steady trend there is noise around a clear trend (False) however noisy single points are;
    else True at either scale wins, then borderline.
    """
    scales = [osc_stats(y) for y in osc_scales(tr)]
    if len(scales) > 1 and scales[-1] is not None and _steady(scales[-1]):
        return False
    found = [_osc_one(st) for st in scales]
    return True if True in found else (None if None in found else False)


def osc_label(tr: np.ndarray, divergent: bool) -> bool | None:
    """``oscillation`` of a run's training loss as written; on a run that diverged its swings are the
    blow-up's (a loss that jumps by orders of magnitude swings too), so it is never a clear oscillation there:
    borderline unless the numbers clearly show none."""
    osc = oscillation(tr)
    return None if divergent and osc is not False else osc


def osc_grade(tr: np.ndarray) -> str:
    """The severity of a clear oscillation: its largest swing-to-decrease ratio over the scales."""
    ratios = [st.ratio for st in map(osc_stats, osc_scales(tr)) if st is not None]
    return _grade(max(ratios, default=0.0), OSC_GRADE) or "mild"


def rise_ratio(xs: np.ndarray) -> float:
    """How far a smoothed loss climbs back above its best (floored like ``spike_ratio``), 0 if too short."""
    if len(xs) < RISE_SMOOTH + 2 or not np.isfinite(xs).all():
        return 0.0
    smooth = np.array([np.median(xs[i:i + RISE_SMOOTH]) for i in range(len(xs) - RISE_SMOOTH + 1)])
    opening = float(smooth[0])
    if opening <= 0:
        return 0.0
    best = int(np.argmin(smooth))
    return float(np.max(smooth[best:]) / max(float(smooth[best]), SPIKE_FLOOR * opening))


def divergence(raw_tr: np.ndarray, raw_va: np.ndarray, steps: np.ndarray, tr: np.ndarray) -> str | None:
    """Non-finite anywhere (severe in train, clear in val only), or a loss far above its run's level."""
    if not np.isfinite(raw_tr).all() or (len(steps) and not np.isfinite(steps).all()):
        return "severe"
    if not np.isfinite(raw_va).all():
        return "clear"
    return _grade(max(spike_ratio(steps), spike_ratio(tr), rise_ratio(tr)), SPIKE_RATIO)


def val_better(tr: np.ndarray, va: np.ndarray) -> str | None:
    trv = _resample(tr, len(va))
    half = max(1, len(va) // 2)
    share = float(np.mean(va[-half:] < trv[-half:]))
    if share < VBT_SHARE:
        return None
    gap = float(np.mean((trv[-half:] - va[-half:]) / np.maximum(trv[-half:], 1e-12)))
    return _grade(gap, VBT_GAP) or "mild"


def healthy(tr: np.ndarray, va: np.ndarray) -> str | None:
    """None when the curves look healthy; else why not."""
    best = int(np.argmin(va))
    if tr[-1] >= HEALTHY_FALL * tr[0]:
        return f"train only {tr[0]:.3g} -> {tr[-1]:.3g}"
    late = best >= HEALTHY_BEST_FROM * (len(va) - 1) and va[-1] <= HEALTHY_END_OVER_BEST * va[best]
    if not late and va[-1] > HEALTHY_PLATEAU * va[best]:
        return f"val best at {best}/{len(va)}, end/best {va[-1] / va[best]:.2f}"
    return None


def judge(family: str, intended: str | None, softmax_nll: bool, train: list[float], val: list[float],
          steps: list[float] | None = None) -> Verdict:
    """The labels the recorded numbers show (see the module docstring)."""
    labels = dict.fromkeys(("overfitting", "underfitting", "oscillation", "negative_loss",
                            "val_better_than_train", "divergence", "healthy"), False)
    raw_tr, raw_va = np.asarray(train, dtype=float), np.asarray(val, dtype=float)
    raw_steps = np.asarray(steps or [], dtype=float)
    if len(raw_tr) < 4 or len(raw_va) < 4:
        return Verdict(labels, "", None, dropped=f"too short ({len(raw_tr)} train, {len(raw_va)} val points)")
    if softmax_nll:
        fin = raw_tr[np.isfinite(raw_tr)]
        ok = len(fin) and fin.min() < 0 and fin.min() >= -1 and fin[-1] < fin[0]
        if not ok:
            return Verdict(labels, "", None, dropped="Softmax + NLLLoss curve not in [-1, 0] or not falling")
        labels["negative_loss"] = True
        return Verdict(labels, _grade(-float(fin[-1]), (0.0, 0.5, 0.9)) or "mild", "negative_loss")
    tr, va, st = _shift(family, raw_tr), _shift(family, raw_va), _shift(family, raw_steps)
    found: dict[str, str] = {}
    div = divergence(raw_tr, raw_va, st, tr)
    if div:
        found["divergence"] = div
    if np.isfinite(tr).all() and np.isfinite(va).all():
        for name, grade in (("overfitting", overfitting(tr, va)), ("underfitting", underfitting(tr, family)),
                            ("val_better_than_train", val_better(tr, va))):
            if grade:
                found[name] = grade
        if found.get("underfitting") and found.get("val_better_than_train"):
            found.pop("val_better_than_train")  # an unlearned model's val and train sit together at chance
    osc = osc_label(raw_tr, bool(div))  # the numbers as written: a rater knows no family floor
    labels["oscillation"] = osc  # intent-free: the numbers alone (None: borderline, left unlabelled)
    if osc:
        found["oscillation"] = osc_grade(raw_tr)
    meant = intended  # the notes name the fault the run was built for
    if intended == "oscillation" and not osc:
        if osc is None and not found:
            return Verdict(labels, "", None, dropped="oscillation borderline")
        intended = None  # an oscillation that does not show: the run is judged as any other
    if intended and intended in found:
        main = intended
        extra = {k: v for k, v in found.items() if k != intended and (v != "mild" or k == "oscillation")}
        # others only when clear (oscillation's label is already a clear call)
        if main == "divergence":
            extra = {}  # a loss that blew up also looks unlearned and unsteady: the blow-up is the finding
    elif intended is None and not found and osc is False and (why := _healthy_or_why(tr, va)) is None:
        labels["healthy"] = True
        return Verdict(labels, "", None, notes=[f"relabelled {meant} -> healthy"] if meant else [])
    else:
        clear = {k: v for k, v in found.items() if v != "mild" or k == "oscillation"}
        if not clear:
            why = f"{meant or 'healthy'} not shown" + (f" (only mild {sorted(found)})" if found else "")
            if intended is None:
                why += f": {_healthy_or_why(tr, va) or 'mild signs'}"
            return Verdict(labels, "", None, dropped=why)
        main = max(clear, key=lambda k: ("mild", "clear", "severe").index(clear[k]))
        extra = {k: v for k, v in clear.items() if k != main}
    for k in (main, *extra):
        labels[k] = True
    note = [f"relabelled {meant or 'healthy'} -> {main}"] if main != meant else []
    return Verdict(labels, found[main], main, notes=note + [f"also {k} ({v})" for k, v in extra.items()])


def _healthy_or_why(tr: np.ndarray, va: np.ndarray) -> str | None:
    if not (np.isfinite(tr).all() and np.isfinite(va).all()):
        return "non-finite values"
    # then fault_logs' healthy test too: it also refuses a short run whose val sits below train
    # most of the time (the corpus labels that val_better_than_train)
    return healthy(tr, va) or pair_confirm(None, [float(x) for x in tr], [float(x) for x in va])


__all__ = ["Verdict", "judge", "chance", "floor"]
