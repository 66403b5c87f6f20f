"""Pieces several rules share: which curve is "the training loss", config look-ups, fixes.

``clamp`` (re-exported from diagnostics.bounds) keeps a patch inside the ranges the caller handed in.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from diagnostics import curves
from diagnostics.bounds import clamp
from diagnostics.findings import Finding
from diagnostics.rundata import RunData, Series
from traindoc.core.vocabulary import ACC_WORDS, reads_as_train_loss, role, train_losses

ADAM_FAMILY = ("adam", "adamw", "adam_sgd")  # adam_sgd is Adam until its switch epoch
DECIMAL = 10  # suggested numbers are rounded to one significant decimal digit
CHANCE_TOL = 0.03  # a loss within 3 % of ln K sits at chance: epoch means wobble around it by about that
MIN_CLASSES = 2  # the fewest classes a uniform guess can be over (ln 2, a coin)


def step_loss(run: RunData) -> Series | None:
    """The per-iteration training loss, or the epoch-level one when that is all there is."""
    return run.first(*train_losses("step"))


def epoch_loss(run: RunData) -> Series | None:
    """The epoch-level training loss (eval-mode first: comparable with val/loss)."""
    return run.first(*train_losses("epoch"))


def other_train_losses(run: RunData, skip: set[str] | frozenset[str] = frozenset()) -> dict[str, Series]:
    """Series outside the canonical family whose name reads as a training loss (``train/loss_critic``)."""
    return {n: s for n, s in run.series.items() if n not in skip and reads_as_train_loss(n)}


def loss_trend(run: RunData) -> tuple[str, np.ndarray, np.ndarray]:
    """Name, steps and finite values of the training loss the trend rules judge: epoch-level
    when logged (less noise), else per-step; long curves reduced to bin means."""
    series = epoch_loss(run) or step_loss(run)
    if series is None:
        return "", np.empty(0), np.empty(0)
    return (series.name, *curves.reduce(*series.finite()))


def train_curve(run: RunData) -> tuple[str, np.ndarray, np.ndarray]:
    """Name, steps and finite values of the training loss, long curves reduced to bin means."""
    s = step_loss(run)
    if s is None:
        return "", np.empty(0), np.empty(0)
    x, y = curves.reduce(*s.finite())
    return s.name, x, y


RL_SCORE = re.compile(r"(?:^|[^a-z])(return|reward|rew)")  # an episode return: unbounded, higher is better


def reinforcement(run: RunData) -> bool:
    """A reinforcement-learning run (it logs an episode return or reward): its losses are not
    stationary (a value loss grows with the returns), so a rise is no verdict on its own."""
    return any(RL_SCORE.search(name.lower()) for name in run.names)


def cfg(run: RunData, key: str, default: Any = None) -> Any:
    value = run.config.get(key, default)
    return default if value is None else value


def lr_of(run: RunData) -> float | None:
    """The configured lr, else the lr logged most often (the base of the schedule)."""
    lr = cfg(run, "optim.lr")
    if lr is not None:
        try:
            return float(lr)
        except (TypeError, ValueError):
            return None
    _, values = curves.finite(run.get("lr"))
    return float(np.max(values)) if len(values) else None


def nice(value: float) -> float:
    """Round a suggested number to one significant digit (3e-4, not 3.33e-4)."""
    if value <= 0 or not math.isfinite(value):
        return value
    exp = math.floor(math.log10(value))
    return float(round(value / DECIMAL**exp) * DECIMAL**exp)


def scaled_lr(run: RunData, factor: float) -> dict[str, float] | None:
    """A config patch scaling the lr, or None when the lr is unknown."""
    lr = lr_of(run)
    return None if lr is None else {"optim.lr": clamp("optim.lr", nice(lr * factor))}


MAX_CHANCE_CLASSES = 10_000  # beyond this many classes a loss "at ln K" says nothing


def chance_classes(loss: float, tol: float = CHANCE_TOL) -> int | None:
    """K when a loss sits at ln(K), the cross-entropy of a uniform guess over K classes."""
    lo, hi = math.log(MIN_CLASSES) * (1 - tol), math.log(MAX_CHANCE_CLASSES) * (1 + tol)
    if not math.isfinite(loss) or not lo <= loss <= hi:
        return None  # also keeps exp() from overflowing on a huge loss
    k = int(round(math.exp(loss)))
    if MIN_CLASSES <= k <= MAX_CHANCE_CLASSES and abs(loss - math.log(k)) <= tol * math.log(k):
        return k
    return None


def share(n: int, frac: float) -> int:
    return max(1, int(math.ceil(n * frac)))


def appended_segments(run: RunData, x: np.ndarray) -> list[slice]:
    """The stretches of ``x`` between the restarts of an appended log (``meta["restarts"]``: the x where
    each later run or phase begins, set by the importers); one slice for an ordinary run. A jump
    back to a fresh run's starting loss is a restart, not something the loss did."""
    starts = sorted(float(r) for r in run.meta.get("restarts") or () if isinstance(r, int | float))
    cuts = [int(i) for i in np.searchsorted(x, starts, side="left") if 0 < i < len(x)]
    edges = [0, *sorted(set(cuts)), len(x)]
    return [slice(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def fresh_runs(run: RunData, series: Series) -> list[slice]:
    """``appended_segments`` of ``series``, a resume joined to the run it resumes: a restart whose epoch (or, with
    no epoch logged, whose step: ``meta["resumes"]``, found by the importers) goes back into the previous
    stretch but not to the first one (epochs 1-25, then 21-30 again from a checkpoint) continues that model's
    training; a restart to the first epoch or step is a new run."""
    parts = appended_segments(run, series.steps)
    if len(parts) <= 1:
        return parts
    resumes = sorted(float(r) for r in run.meta.get("resumes") or () if isinstance(r, int | float))
    restarts = sorted(float(r) for r in run.meta.get("restarts") or () if isinstance(r, int | float))
    epochs = series.epochs if series.epochs is not None and np.isfinite(series.epochs).any() else None
    seen = epochs[parts[0]][np.isfinite(epochs[parts[0]])] if epochs is not None else np.empty(0)
    first = float(seen.min()) if len(seen) else math.nan
    joined = [parts[0]]
    for part in parts[1:]:
        before, x = joined[-1], float(series.steps[part.start])
        opened = max((r for r in restarts if r <= x), default=math.nan)  # the restart that opened this stretch
        if epochs is not None:
            start = float(epochs[part.start])
            resumed = start > first + 1 and start <= float(np.nanmax(epochs[before]))
        else:
            resumed = opened in resumes
        joined[-1:] = [slice(before.start, part.stop)] if resumed else [before, part]
    return joined


def judge_each_run(run: RunData, series: Series, judge: Callable[[RunData], list[Finding]],
                   keep: Callable[[Finding], bool] = lambda _f: True) -> list[Finding] | None:
    """``judge`` on each run of an appended log (``fresh_runs`` of ``series``), the first run's findings that
    ``keep`` passes, their summaries saying which run; None for an ordinary run (judge it whole)."""
    parts = fresh_runs(run, series)
    if len(parts) <= 1:
        return None
    edges = [float(series.steps[p.start]) for p in parts] + [math.inf]
    for i, (start, end) in enumerate(itertools.pairwise(edges), 1):
        found = [f for f in judge(run.between(start, end)) if keep(f)]
        if found:
            where = f"In the appended run starting at {run.when(start)} (run {i} of {len(parts)}): "
            return [dataclasses.replace(f, summary=where + f.summary[0].lower() + f.summary[1:]) for f in found]
    return []


def segment_series(run: RunData, series: Series) -> list[Series]:
    """``series`` cut at an appended log's restarts (``appended_segments``); itself for an ordinary run."""
    parts = appended_segments(run, series.steps)
    if len(parts) <= 1:
        return [series]
    return [dataclasses.replace(series, steps=series.steps[p], values=series.values[p],
                                epochs=None if series.epochs is None else series.epochs[p]) for p in parts]


_TOKEN = re.compile(r"[a-z0-9]+")
_TOP_K = re.compile(r"^top([2-9]|\d{2,})$")  # ... but not a top-5 accuracy: its chance is not 1/K


def split_accuracy(run: RunData, split: str) -> np.ndarray:
    """The finite values of ``split``'s accuracy: ``train/acc``/``val/acc``, else the one series of that
    split named as an accuracy in [0, 1] (Keras names it by its metric class: ``sparse_categorical_accuracy``
    and ``val_sparse_categorical_accuracy``; a bare name is the training side). Several such names on one
    side (a detector's class, object and background accuracies) leave it unknown: none is the task's."""
    canonical = run.get(f"{split}/acc")
    if canonical is not None:
        return curves.finite(canonical)[1]
    found = []
    for name in run.names:
        r = role(name)
        tokens = _TOKEN.findall(name.lower())
        side = "val" if r.split == "val" else "train" if r.split in ("train", "other") else ""
        if (side == split and r.kind == "metric" and any(t in ACC_WORDS for t in tokens)
                and not any(_TOP_K.match(t) for t in tokens)):
            found.append(name)
    if len(found) != 1:
        return np.empty(0)
    _, y = curves.finite(run.get(found[0]))
    return y if len(y) and y.min() >= 0 and y.max() <= 1 else np.empty(0)


UNSEEN_EPOCHS = 2  # a log starting later than this many epochs (and logging intervals) misses the first fall
FINE_PER_EPOCH = 10  # a series with this many points per epoch or more is logged per step, not per epoch


def starts_mid_run(series: Series) -> bool:
    """The log's first epoch is past ``UNSEEN_EPOCHS`` and past that many of its own logging intervals (a run
    logged every 4 epochs first logs at epoch 4), or, for a series logged per step (``FINE_PER_EPOCH`` points an
    epoch or more), at ``UNSEEN_EPOCHS`` or later (a whole epoch of steps before it): captured or resumed mid-run."""
    epochs = series.epochs
    if epochs is None or len(epochs) < 2 or not np.isfinite(epochs[:2]).all():
        return False
    seen = epochs[np.isfinite(epochs)]
    gaps = np.diff(seen)
    interval = float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 0.0
    if len(seen) >= FINE_PER_EPOCH * max(np.ptp(seen), 1.0):
        # logged many times per epoch (per step): a first epoch of 2 or more has a whole epoch of steps before it
        return epochs[0] >= UNSEEN_EPOCHS
    return epochs[0] > UNSEEN_EPOCHS * max(interval, 1.0)
