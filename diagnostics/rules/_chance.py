"""Validation accuracy at chance while training fits: the ``overfitting`` rule's sub-case for a val curve
that never improves.

Why overfitting and not a rule of its own: the label's definition is "training improves
while validation does not, the gap widens"; a val accuracy that stays at chance has no best
to turn back from, yet it is the same divergence of train from val at its extreme (the net
fits the training set and has learnt nothing that carries over). The wording differs,
because a val accuracy at chance from the first evaluation is as often a pipeline fault
(labels shuffled apart from their inputs, another preprocessing or class order on the
validation set) as memorisation, and the first fix is to check that.

Flat: the Theil-Sen trend moves the val accuracy by at most a few points over the run; its range
may be wider (a val set of a few hundred samples at chance swings by several points) when a train
accuracy climbs far above it (a falling training loss alone is weaker evidence that training fits).
Chance is 1/K for some class count K (0.5, 0.1, 0.01...) or a val accuracy that does not
move at all (the net predicts one class: the majority-class rate, which the log cannot name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from diagnostics import curves, trend
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import epoch_loss, step_loss
from diagnostics.rundata import RunData

EDGE_SHARE = 0.1  # start and end levels: medians of the first and last tenth
WD_FIX, DROPOUT_FIX = 1e-4, 0.3  # the regularisation fix: the usual L2 default, dropout's usual low end

if TYPE_CHECKING:
    from diagnostics.base import Rule

MIN_EVALS = 5  # fewer validation points cannot show "flat" apart from "not yet learning"
MIN_CLASSES = 2  # fewer is no classification: 1/2 is the highest chance level
MAX_CLASSES = 1000  # ImageNet-1k: the largest class count a chance level is matched against
CHANCE_TOL = 0.1  # within 10 % of 1/K (relative): a small val set's accuracy moves by a few points at chance
FLAT_RANGE = 0.05  # the val accuracy's trend (Theil-Sen) moves it by at most 5 points over the run: it never improves
CONSTANT = 1e-3  # a val accuracy that moves less than this is one class predicted (the majority rate)
TRAIN_GAIN = 0.15  # train accuracy climbs by 15 points at least: training fits
GAP = 0.15  # and ends 15 points above validation: the split is real, not a hard task both sides find hard
LOSS_DROP = 0.3  # with no train accuracy: the training loss falls by 30 % at least (relative)


def at_chance(rule: Rule, run: RunData) -> list[Finding]:
    """The finding when val accuracy stays flat at chance while the training set is fitted, else []."""
    val = run.get("val/acc")
    if val is None:
        return []
    x, y = val.finite()
    if len(y) < MIN_EVALS:
        return []
    # flat: no trend (Theil-Sen); its range may be wider (a small val set's accuracy at chance swings by
    # several points) only beside a train accuracy that climbs far above it, checked below
    drift = abs(trend.theil_sen_slope(np.arange(len(y), dtype=float), y)) * (len(y) - 1)
    swings = bool(np.ptp(y) > FLAT_RANGE)
    if drift > FLAT_RANGE:
        return []
    level = float(np.median(y))
    k = _classes(level)
    constant = bool(np.ptp(y) <= CONSTANT)
    fits = _train_fits(run, level)
    if fits is None or (k is None and not (constant and fits[0] == "train/acc")) or (swings and fits[0] != "train/acc"):
        return []
    what, start, end = fits
    chance = f"1/{k} = {1 / k:.3g}" if k else "a constant: one class predicted, the majority-class rate"
    moved = f"train accuracy climbed from {start:.2f} to {end:.2f}" if what == "train/acc" else \
        f"the training loss fell from {curves.fmt(start)} to {curves.fmt(end)}"
    summary = (f"val/acc stays flat at {level:.3g} over {len(y)} evaluations (chance: {chance}) while {moved}: "
               "the network fits the training set and nothing of it carries over to validation.")
    values = {"val_acc_level": level, "val_acc_range": float(np.ptp(y)), "val_acc_drift": drift, "chance_classes": k,
              "train_metric": what, "train_start": start, "train_end": end, "evaluations": len(y)}
    marks = ({"kind": "hline", "value": level, "label": "val/acc at chance"},)
    fixes = (
        Fix("Check that validation data and labels match training (same preprocessing, class order, label "
            "pairing)", "a val accuracy at chance from the first epoch is most often a pipeline fault"),
        Fix("Then regularise: weight decay, dropout, augmentation, more data",
            "if the split is sound, the net memorises the training set",
            {"optim.weight_decay": WD_FIX, "model.dropout": DROPOUT_FIX}),
    )
    return [rule.finding(summary, Evidence("val/acc", int(x[0]), int(x[-1]), values, marks), fixes,
                         title="Overfitting: validation accuracy stays at chance while training fits")]


def _classes(level: float) -> int | None:
    """K when ``level`` is within ``CHANCE_TOL`` of 1/K (K from ``MIN_CLASSES`` to ``MAX_CLASSES``)."""
    if not 0 < level <= (1 + CHANCE_TOL) / MIN_CLASSES:
        return None
    k = int(round(1 / level))
    return k if MIN_CLASSES <= k <= MAX_CLASSES and abs(level - 1 / k) <= CHANCE_TOL / k else None


def _train_fits(run: RunData, val_level: float) -> tuple[str, float, float] | None:
    """``(metric, start, end)`` when the training side clearly learns: train acc climbs well above val,
    or (no train accuracy) the training loss falls."""
    acc = run.get("train/acc")
    if acc is not None:
        _, a = acc.finite()
        if len(a) >= MIN_EVALS:
            start, end = curves.level(a, EDGE_SHARE, end=False), curves.level(a, EDGE_SHARE, end=True)
            ok = end - start >= TRAIN_GAIN and end - val_level >= GAP
            return ("train/acc", start, end) if ok else None
    loss = epoch_loss(run) or step_loss(run)
    if loss is None:
        return None
    _, ly = loss.finite()
    if len(ly) < MIN_EVALS:
        return None
    start, end = curves.level(ly, EDGE_SHARE, end=False), curves.level(ly, EDGE_SHARE, end=True)
    return (loss.name, start, end) if start > 0 and (start - end) / start >= LOSS_DROP else None
