"""Validation persistently better than training: a split, measurement or leakage problem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import cfg
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import EPOCH_LOSS, EVAL_LOSS, SCORE_PREFERENCE, STEP_LOSS, VAL_LOSS, Monitor, partners

WINDOWED = 1.5  # a per-step training loss logged this many times more often than validation is averaged per window
TINY = 1e-12  # guards the relative margin against a zero training error

# (val, train candidates, higher is better), strongest evidence first
# (the score order; the val loss beside its eval-mode training loss first, see train_losses)
PAIRS = tuple((name, partners(name), Monitor(name).higher_is_better) for name in SCORE_PREFERENCE)


class Pair(NamedTuple):
    """One validation curve judged against its training partner over the judged evaluations."""

    val_name: str
    train_name: str
    x: np.ndarray  # the judged evaluations' steps
    val: np.ndarray
    train: np.ndarray  # the training value each evaluation is set against
    better: np.ndarray  # whether validation beat training there (by the margin)
    median_margin: float  # the typical relative lead of validation, in error space


@register
@dataclass(frozen=True)
class ValAboveTrain(Rule):
    """What it detects:
    Over most of the run the validation AUC or accuracy beats the training one by a clear
    margin, or the validation loss stays clearly below the training loss. Causes are
    listed in the order of the evidence: an unshuffled split (when the config says so),
    dropout or augmentation active while the training metric is measured, leakage.

    Why it matters:
    A held-out set should be at most as easy as the training set. When it is
    consistently easier the split is not representative (ordered data, a lucky split,
    duplicates across splits) or the training metric is measured in a different mode;
    the validation number then overstates what the model will do.

    Suggested fix:
    Shuffle before splitting (stratified); look for leakage and duplicates between the
    splits; measure train metrics in eval mode (dropout and augmentation only act in
    training); cross-validate to see whether the split is just lucky.

    A per-step training loss is compared, at each evaluation, with its mean since the
    previous evaluation (what the epoch's training loss would be), so HF ``eval_steps``
    and Lightning step rows are judged like epoch logs. A training loss logged fewer times
    than validation ran (HF's one ``train_loss`` summary at the end) is not a curve: the finer
    one beside it is compared. A run that barely learned is judged like any other (the label
    has no exception for it: both curves at chance with val a hair lower is still val below
    train). A training loss that blew up is ``divergence``'s, whose finding explains this one.

    Parameters:
    min_points: aligned evaluations needed before judging. 1: the label counts evaluations, and
      a run evaluated once or three times (an HF fine-tune, a 3-epoch transfer run) is a comparable
      pair; it is null only with no pair at all.
    judge_from: share of training skipped before judging. 0 on real logs: the label counts
      every evaluation, and skipping 30% (AUTOTRAINER) missed short runs.
    metric_margin: the validation error (1 - AUC or 1 - accuracy) must be this share below the training error.
    shuffled_margin: the same when the config says the split was shuffled (only luck or leakage remain).
    metric_floor: ... and at least this much below in absolute terms (one sample is not a finding).
    loss_margin: the validation loss must be this share below the training loss. 0 (the label
      is "val below train in most evaluations", no margin): the persistence test carries the
      evidence; a 20% margin missed detector and fine-tune runs whose val loss is 1-15% lower.
    shuffled_loss_margin: the same for a split known to be shuffled (a lucky draw of a few hundred
      validation samples is often 20-25% easier).
    persistence: share of the judged evaluations that must show the margin ("most of the run");
      the operating point, calibrated with bench/calibrate.py.

    References:
    Kohavi, "A study of cross-validation and bootstrap" (1995); Keras FAQ, "Why is my training
    loss much higher than my testing loss?" (dropout and regularisation at training time only).
    """

    id = "val_above_train"
    order = 110
    title = "Validation better than training"
    severity = "warning"
    requires = (
        SCORE_PREFERENCE,
        tuple(name for _, train_names, _ in PAIRS for name in train_names),
    )

    min_points: int = 1
    judge_from: float = 0.0
    metric_margin: float = 0.3
    shuffled_margin: float = 0.6
    metric_floor: float = 0.003
    loss_margin: float = 0.0
    shuffled_loss_margin: float = 0.4
    persistence: float = 0.7

    def check(self, run: RunData) -> list[Finding]:
        hits: list[Pair] = []
        # a split known to be shuffled and stratified leaves only luck or leakage: ask for more
        shuffled = cfg(run, "data.shuffle_split") is True
        for val_name, train_names, higher in PAIRS:
            if higher:
                margin = self.shuffled_margin if shuffled else self.metric_margin
            else:
                margin = self.shuffled_loss_margin if shuffled else self.loss_margin
            result = self._pair(run, val_name, train_names, higher, margin)
            if result is not None:
                hits.append(result)
        if not hits:
            return []
        first = hits[0]
        metric_hit = any(h.val_name != VAL_LOSS for h in hits)
        parts = [
            f"{h.val_name} beats {h.train_name} in {h.better.mean():.0%} of the judged evaluations "
            f"(final {curves.fmt(h.val[-1])} vs {curves.fmt(h.train[-1])}; validation error typically "
            f"{h.median_margin:.0%} lower)"
            for h in hits
        ]
        summary = "Validation is persistently better than training: " + "; ".join(parts) + "."
        values = {
            "pairs": [
                {
                    "val": h.val_name,
                    "train": h.train_name,
                    "share": float(h.better.mean()),
                    "median_margin": h.median_margin,
                    "final_val": float(h.val[-1]),
                    "final_train": float(h.train[-1]),
                }
                for h in hits
            ]
        }
        x = first.x
        start = float(x[int(np.argmax(first.better))])
        label = f"{first.val_name} better than {first.train_name}"
        marks = ({"kind": "span", "start": start, "end": float(x[-1]), "label": label},)
        related = tuple(h.train_name for h in hits)
        evidence = Evidence(first.val_name, int(start), int(x[-1]), values, marks, related)
        if not metric_hit:
            summary += (" Observed, not necessarily a bug: the training loss is measured with dropout, "
                        "augmentation or regularisation on (and averaged over an improving epoch)")
            summary += "; check the split only if none of these is in use." if first.train_name != EVAL_LOSS \
                else "; it is measured in eval mode here, so look at the split."
        return [self.finding(summary, evidence, self._fixes(run, first.train_name))]

    def _pair(self, run: RunData, val_name: str, train_names: tuple[str, ...], higher: bool,
              metric_margin: float) -> Pair | None:
        """The judged stretch where validation beats training by ``metric_margin`` (relative), or None."""
        found = run.get(val_name)
        if found is None:
            return None
        vx, vy = curves.reduce(*found.finite())
        train_name = _partner_at_cadence(run, train_names, len(vy))
        if train_name is None:
            return None
        tx, ty = curves.reduce(*run.series[train_name].finite())
        if len(vy) < self.min_points or len(ty) < self.min_points:
            return None
        windowed = train_name == STEP_LOSS and len(ty) > WINDOWED * len(vy)
        inside = (vx >= tx[0]) & (vx <= tx[-1] if not windowed else vx >= tx[0])
        x, val = vx[inside], vy[inside]
        if len(x) < self.min_points:
            return None
        train = window_means(tx, ty, x) if windowed else np.interp(x, tx, ty)
        judged = x >= x[0] + self.judge_from * (x[-1] - x[0])
        # judge in error space: 0.999 vs 0.993 AUC is a seven-fold smaller error
        val_err, train_err = (1 - val, 1 - train) if higher else (val, train)
        margin = (train_err - val_err) / np.maximum(np.abs(train_err), TINY)
        floor = self.metric_floor if higher else 0.0
        better = (margin > metric_margin) & (train_err - val_err > floor)
        if better[judged].mean() < self.persistence:
            return None
        return Pair(val_name, train_name, x[judged], val[judged], train[judged], better[judged],
                    float(np.median(margin[judged])))

    def _fixes(self, run: RunData, train_name: str) -> list[Fix]:
        fixes = []
        shuffled = cfg(run, "data.shuffle_split")
        if shuffled is False:
            fixes.append(
                Fix(
                    "Shuffle (stratified) before splitting",
                    "the config splits the data in its native order: validation is the tail, not a sample",
                    {"data.shuffle_split": True},
                )
            )
        dropout = float(cfg(run, "model.dropout", 0.0) or 0.0)
        train_mode = train_name == EPOCH_LOSS
        if dropout > 0 or train_mode:
            why = (
                f"dropout {dropout:g} is active while the training metric is measured"
                if dropout > 0
                else "the training loss is the running mean of training-mode batches"
            )
            fixes.append(Fix("Measure train metrics in eval mode", why + "; validation runs without it"))
        fixes.append(
            Fix(
                "Look for leakage and duplicates between the splits",
                "samples (or near-copies) shared by both splits make validation easy",
            )
        )
        if shuffled is None:
            fixes.append(
                Fix(
                    "Shuffle (stratified) before splitting",
                    "ordered data makes an unrepresentative split",
                    {"data.shuffle_split": True},
                )
            )
        fixes.append(Fix("Cross-validate", "several splits show whether this one is just lucky"))
        return fixes


def window_means(tx: np.ndarray, ty: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Mean of the per-step training loss since the previous evaluation, at each evaluation step.

    A window with no training log (evaluation before the first log) takes the nearest value.
    """
    edges = np.searchsorted(tx, at, side="right")
    starts = np.concatenate(([0], edges[:-1]))
    sums = np.concatenate(([0.0], np.cumsum(ty)))
    out = np.interp(at, tx, ty)
    full = edges > starts
    out[full] = (sums[edges[full]] - sums[starts[full]]) / (edges[full] - starts[full])
    return out



def _partner_at_cadence(run: RunData, names: tuple[str, ...], evaluations: int) -> str | None:
    """The first of ``names`` logged at least once per evaluation, else the most often logged one.

    A training loss logged fewer times than validation ran is a run summary (an HF
    ``train_loss`` written once at the end), not a curve: a finer one beside it is compared.
    """
    present = [(name, len(run.get(name).finite()[1])) for name in names if run.get(name) is not None]
    present = [(name, n) for name, n in present if n]
    if not present:
        return None
    return next((name for name, n in present if n >= evaluations), max(present, key=lambda p: p[1])[0])
