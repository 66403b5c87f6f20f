"""Signs that a model learned nothing, read from its task metric rather than its loss: the ``underfitting``
rule's cases where the loss says little (a policy loss is a surrogate; a detector's box loss falls while it
detects nothing).

- An RL run's episode return with no rising trend (one-sided Mann-Kendall).
- An overlap score (mAP, IoU, Dice) that never leaves the floor: a detector or segmenter that finds nothing.
"""

from __future__ import annotations

import re

import numpy as np

from diagnostics import curves
from diagnostics.rules._common import RL_SCORE
from diagnostics.rundata import RunData, Series
from diagnostics.trend import mann_kendall_p
from traindoc.core.vocabulary import role

RISING_P = 0.05  # a score whose one-sided Mann-Kendall p of a rise is at most this is climbing
SMOOTH_SHARE = 0.1  # scores are judged on a moving average over a tenth of the run: one lucky evaluation is noise
_RETURN_STAT = re.compile(r"(?:^|[^a-z])(std|max|min)(?:[^a-z]|$)")  # the returns' spread or extremes
# the overlap scores of detection and segmentation (mAP50, mAP50-95, mIoU, Dice, Jaccard): 0 is "found
# nothing", whatever the class count; accuracy, precision and recall are not among them (a majority-class
# rate or a recall of 1 by predicting everything sits far above 0 and means nothing)
_OVERLAP = re.compile(r"(?:^|[^a-z])(m?ap\d*|m?iou|dice|jaccard)(?:[^a-z]|$)")


def returns(run: RunData, min_points: int) -> list[Series]:
    """The episode-return curves of a run (``rollout/ep_rew_mean``, ``eval/mean_reward``), long enough to judge."""
    return [s for name, s in run.series.items()
            if RL_SCORE.search(name.lower()) and not _RETURN_STAT.search(name.lower()) and role(name).better != "lower"
            and np.isfinite(s.values).sum() >= min_points]


def flat_returns(run: RunData, min_points: int, max_p: float) -> tuple[Series, float] | None:
    """The longest return curve and its trend p-value when no return curve rises (every one-sided
    Mann-Kendall p above ``max_p``), else None."""
    found = returns(run, min_points)
    if not found:
        return None
    ps = {s.name: mann_kendall_p(curves.reduce(*s.finite())[1]) for s in found}
    if min(ps.values()) <= max_p:
        return None
    main = max(found, key=len)
    return main, ps[main.name]


def overlap_floor(run: RunData, min_points: int, floor: float) -> tuple[Series, float] | None:
    """The best overlap score and its best smoothed value when every overlap score (mAP, IoU, Dice) of at
    least ``min_points`` evaluations stayed below ``floor`` all run, else None (a score at
    exactly 0 throughout counts: a detector that never matched a box, not a placeholder, as precision and recall
    at 0 beside it show)."""
    best: tuple[Series, float] | None = None
    for name, series in run.series.items():
        r = role(name)
        if r.better != "higher" or r.kind != "metric" or not _OVERLAP.search(name.lower()):
            continue
        _, y = series.finite()
        if len(y) < min_points or y.min() < 0 or y.max() > 1:
            continue
        top = float(curves.smooth(y, curves.window(len(y), SMOOTH_SHARE)).max())
        if top >= floor:
            return None
        if best is None or top > best[1]:
            best = (series, top)
    return best


def climbing(series: Series) -> bool:
    """The score rises as a trend (one-sided Mann-Kendall p at most ``RISING_P``)."""
    return mann_kendall_p(series.finite()[1]) <= RISING_P
