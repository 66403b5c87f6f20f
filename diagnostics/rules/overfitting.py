"""Validation gets worse for a sustained stretch while training keeps improving."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._chance import at_chance
from diagnostics.rules._common import cfg, epoch_loss, share, step_loss
from diagnostics.rundata import RunData
from traindoc.vocabulary import VAL_CURVES, VAL_LOSS, Monitor, partner

METRICS = VAL_CURVES[1:]  # the scores (direction from the vocabulary); used when no val/loss is logged


@register
@dataclass(frozen=True)
class Overfitting(Rule):
    """What it detects:
    The validation loss (or accuracy/AUC when no loss is logged) reaches its best, then
    worsens for a sustained stretch while the training loss keeps falling, so the
    train-validation gap widens. Reports the best (onset) epoch and how much was lost since.
    Also its extreme: a val accuracy flat at chance while training fits (``rules/_chance.py``).

    Why it matters:
    Past the onset the model memorises the training set; every further epoch costs
    compute and makes the model you keep worse, unless the best weights are restored.

    Suggested fix:
    Early stopping at the best epoch (restore best weights); weight decay / L2; dropout
    0.3-0.5 on fully connected layers; data augmentation (mirror, flip, random crop);
    more data; a smaller model.

    Parameters:
    min_points: evaluations needed before judging (short runs say nothing).
    min_after: share of the evaluations that must come after the best.
    min_rise: relative worsening of the smoothed val loss from its best.
    min_metric_drop: absolute drop of val accuracy/AUC from its best (metric mode).
    noise_k: the worsening must exceed this many robust standard deviations of the val noise.
    persistence: share of post-best evaluations that must stay worse than the best.
    overfit_ratio: (val - train) / train at the end must exceed this (SageMaker's default 0.1).
    short_points: the fewest evaluations judged at all. Runs with ``short_points`` to
      ``min_points - 1`` evaluations (HF runs evaluating every 1000 steps, 5-7 epoch Keras runs)
      are judged by a stricter test: every evaluation after the best is worse, the last by at
      least ``short_min_rise``, and the wording says the evidence is thin.
    short_min_rise: 15%: "tens of percent" (corpus hf_0001 rises 31% over 4 evaluations; the
      healthy short runs move less than 10% after their best).

    Noise: the end level is the median of the last tenth of the evaluations, so the rise is
    compared with the robust point noise (MAD around the smoothed curve) divided by the square
    root of that count, the standard error of the level: a sustained rise through large
    swings (corpus json_0001, +43% with +-30% swings) is then not mistaken for noise, while a
    healthy val plateau (keras_0003, keras_0005, pl_0002, pl_0005) still is.

    References:
    SageMaker Debugger Overfit rule (ratio_threshold 0.1); Prechelt, "Early Stopping - But When?" (1998);
    Keras EarlyStopping(restore_best_weights=True).
    """

    id = "overfitting"
    order = 120
    title = "Overfitting"
    severity = "warning"
    requires = (VAL_CURVES,)

    min_points: int = 8
    min_after: float = 0.2
    min_rise: float = 0.05
    min_metric_drop: float = 0.02
    noise_k: float = 2.0
    persistence: float = 0.75
    overfit_ratio: float = 0.1
    short_points: int = 4
    short_min_rise: float = 0.15

    def check(self, run: RunData) -> list[Finding]:
        return self._by_best_point(run) or at_chance(self, run)  # issue 17: val acc at chance (rules/_chance.py)

    def _by_best_point(self, run: RunData) -> list[Finding]:
        if run.get(VAL_LOSS) is not None:
            return self._judge(run, VAL_LOSS, lower_better=not Monitor(VAL_LOSS).higher_is_better)
        for name in METRICS:
            if run.get(name) is not None and run.get(partner(name)) is not None:
                return self._judge(run, name, lower_better=not Monitor(name).higher_is_better)
        return []

    def _judge(self, run: RunData, name: str, lower_better: bool) -> list[Finding]:
        x, y = curves.reduce(*run.get(name).finite())
        n = len(y)
        if n < self.short_points:
            return []
        sign = 1.0 if lower_better else -1.0
        short = n < self.min_points
        # a short run is not smoothed (a 3-point window would move its best); it must instead
        # worsen at every evaluation after the best and by tens of percent
        sy = sign * y if short else curves.smooth(sign * y, curves.window(n, 0.1))
        b = int(np.argmin(sy))
        after = n - 1 - b
        if after < (2 if short else max(3, share(n, self.min_after))):
            return []
        best = sy[b]
        k_end = 1 if short else max(2, int(round(0.1 * n)))
        end = float(sign * y[-1]) if short else curves.level(sign * y, 0.1, end=True, min_n=2)
        rise = end - best
        noise = curves.robust_noise(sign * y, sy if not short else curves.smooth(sign * y, 3))
        needed = self.min_rise * max(abs(best), 1e-12) if lower_better else self.min_metric_drop
        if short:
            needed = self.short_min_rise * max(abs(best), 1e-12) if lower_better else 2 * self.min_metric_drop
        # the end level is a median of k_end evaluations: its noise is the point noise / sqrt(k_end)
        if rise <= 0 or rise < max(needed, self.noise_k * noise / np.sqrt(k_end)):
            return []
        if np.mean(sign * y[b + 1 :] > best) < (1.0 if short else self.persistence):
            return []
        train = self._train(run, name)
        if train is None:
            return []
        tx, ty = train
        st = curves.smooth(sign * ty, curves.window(len(ty), 0.1))
        train_best = float(np.interp(x[b], tx, st))
        train_end = curves.level(sign * ty, 0.1, end=True, min_n=2)
        if train_end >= train_best:  # training stalled or worsened too: not memorisation
            return []
        gap_best, gap_end = best - train_best, end - train_end
        if gap_end <= gap_best:
            return []
        if lower_better and gap_end < self.overfit_ratio * max(abs(train_end), 1e-12):
            return []
        shown = curves.refine_min(sign * y, b, curves.window(n, 0.1))
        return [
            self._finding(
                run, name, x, y, shown, sign, float(sign * y[shown]), float(end), train_best, train_end,
                gap_best, gap_end
            )
        ]


    def _train(self, run: RunData, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        series = (
            (epoch_loss(run) or step_loss(run))
            if name == VAL_LOSS
            else run.get(partner(name))
        )
        if series is None:
            return None
        tx, ty = curves.reduce(*series.finite())
        return (tx, ty) if len(ty) >= 3 else None

    def _finding(
        self,
        run: RunData,
        name: str,
        x: np.ndarray,
        y: np.ndarray,
        b: int,
        sign: float,
        best: float,
        end: float,
        train_best: float,
        train_end: float,
        gap_best: float,
        gap_end: float,
    ) -> Finding:
        best_step, last_step = float(x[b]), float(x[-1])
        best_v, end_v = sign * best, sign * end
        tb, te = sign * train_best, sign * train_end
        lost = abs(end_v - best_v)
        rel = lost / max(abs(best_v), 1e-12)
        after = len(x) - 1 - b
        what = "rose" if sign > 0 else "fell"
        tname = "train loss" if name == VAL_LOSS else partner(name)
        summary = (
            f"{name} was best at {curves.fmt(best_v)} at {run.when(best_step)}, then {what} to "
            f"{curves.fmt(end_v)} by {run.when(last_step)} ({'+' if sign > 0 else '-'}{rel:.0%}) while "
            f"{tname} kept improving {curves.fmt(tb)} → {curves.fmt(te)}; the gap widened "
            f"from {curves.fmt(abs(gap_best))} to {curves.fmt(abs(gap_end))}."
        )
        if len(x) < self.min_points:
            summary += (f" Only {len(x)} evaluations, each worse than the best: likely overfitting, but the "
                        "evidence is thin; evaluate more often to confirm.")
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
            "gap_at_best": abs(gap_best),
            "gap_final": abs(gap_end),
            "original_name": run.original(name),
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
                {"early_stopping.patience": 5, "early_stopping.monitor": monitor},
            )
        ]
        wd = float(cfg(run, "optim.weight_decay", 0.0) or 0.0)
        fixes.append(
            Fix(
                "Add weight decay (L2)",
                "penalising large weights limits memorisation",
                {"optim.weight_decay": 1e-4 if wd <= 0 else min(wd * 10, 1e-2)},
            )
        )
        dropout = float(cfg(run, "model.dropout", 0.0) or 0.0)
        if dropout < 0.5:
            fixes.append(
                Fix(
                    "Add dropout (0.3-0.5 on fully connected layers)",
                    "dropping units at random keeps the net from relying on single features",
                    {"model.dropout": 0.3 if dropout < 0.3 else 0.5},
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
        augment = _augmentation(data_kind(run))
        if augment is not None:
            fixes.append(augment)
        width = int(cfg(run, "model.width", 0) or 0)
        fixes.append(
            Fix(
                "Use a smaller model",
                "fewer parameters have less room to memorise",
                {"model.width": max(8, width // 4)} if width > 32 else None,
            )
        )
        return fixes


# What the inputs are, from the config's data set name or the metric names: the augmentation
# advice must fit the data (no flips and crops for a table of numbers).
_IMAGE_DATA = ("digits", "mnist", "cifar", "imagenet", "coco", "voc", "celeba", "svhn", "image", "img")
_TABULAR_DATA = ("breast_cancer", "wine", "classification", "moons", "iris", "titanic", "housing", "adult",
                 "tabular", "csv")
_IMAGE_METRICS = re.compile(r"(map50|map|bbox|box_loss|giou|iou|dice|ssim|psnr|top1|top5|mask|keypoint|seg)")
_SPEECH_TEXT_METRICS = re.compile(r"(wer|cer|bleu|rouge|perplexity|ppl|bpb|token|snr|sdr)")


def data_kind(run: RunData) -> str:
    """'image', 'tabular', 'sequence' (text/speech) or 'unknown', from config and metric names."""
    name = str(cfg(run, "data.name", "") or cfg(run, "data.dataset", "") or "").lower()
    if any(t in name for t in _IMAGE_DATA):
        return "image"
    if any(t in name for t in _TABULAR_DATA):
        return "tabular"
    names = " ".join(run.names).lower()
    if _IMAGE_METRICS.search(names) or run.meta.get("format") in ("ultralytics",):
        return "image"
    if _SPEECH_TEXT_METRICS.search(names):
        return "sequence"
    return "unknown"


def _augmentation(kind: str) -> Fix | None:
    if kind == "image":
        return Fix("Augment the data (mirror, flip, random crop)", "augmentation multiplies the examples")
    if kind == "sequence":
        return Fix("Augment the data (SpecAugment or speed perturbation for audio, token dropout or "
                   "back-translation for text)", "augmentation multiplies the examples")
    if kind == "tabular":
        return None  # flips and crops mean nothing for a table; regularisation and more rows do
    return Fix("Augment the data where the inputs allow it (flips/crops for images, noise or time shifts "
               "for signals)", "augmentation multiplies the examples")
