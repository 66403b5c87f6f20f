"""Sudden jumps of a positive series far above its running level: robust z-scores, shared by
``loss_spikes`` (how many, how bad, what clipping value) and ``divergence`` (spikes of orders
of magnitude are a blow-up).

A loss spans orders of magnitude over a run, so the series is judged in log space: each
point against the median of the points before it (a trailing rolling median, so a spike is
measured from where the loss was, and a third of the steps spiking still leaves the median
on the ordinary level). The spread is the median absolute deviation of those residuals: it
ignores up to half of the points being spikes, where a standard deviation would be blown up
by the very spikes it should find. A spike is sudden: it starts with a jump from the point
before it, so a steady climb (a rise, ``divergence``'s) is not a run of spikes.

A loss that may be negative has no log space: ``magnitude_spikes`` measures its spikes against
its typical magnitude instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAD_TO_SIGMA = 1.4826  # the MAD of normal noise times this is its standard deviation (consistent estimator)
MIN_SPREAD = 1e-3  # a log-spread floor: a deterministic curve (MAD 0) does not turn every bump into z = inf
TINY = 1e-12  # guards a zero magnitude
# a spike rises over the points just before it: a loss that starts high and falls by orders of magnitude
# (an RL objective decaying towards and across zero) is learning, and its first points are no spikes
SPIKE_LOOKBACK = 5


@dataclass(frozen=True)
class Spikes:
    """Where a series spikes: indices into the values given, each spike's ratio to its running level."""

    index: np.ndarray
    ratio: np.ndarray
    level: np.ndarray  # the running level (trailing median) at every point, NaN before it is known
    spread: float  # the robust standard deviation of the log-residuals

    @property
    def count(self) -> int:
        return int(self.index.size)

    def worst(self) -> int:
        """The index (into the values) of the spike furthest above its running level."""
        return int(self.index[int(np.argmax(self.ratio))])


def find_spikes(y: np.ndarray, window: int, z_min: float, ratio_min: float, history: int,
                segments: list[slice] | None = None) -> Spikes:
    """The points of ``y`` (finite, positive) more than ``z_min`` robust SDs and ``ratio_min``× above
    the median of the ``window`` points before them (``history`` of them at least). With ``segments``
    (an appended log's runs), the points before are those of the same segment: a restart's jump back to
    a fresh run's starting loss is not a spike."""
    y = np.asarray(y, dtype=float)
    empty = Spikes(np.empty(0, dtype=int), np.empty(0), np.full(len(y), np.nan), 0.0)
    if len(y) <= history or not (np.isfinite(y).all() and (y > 0).all()):
        return empty
    logs = np.log(y)
    parts = segments or [slice(0, len(y))]
    level = np.concatenate([pd.Series(logs[p]).shift(1).rolling(window, min_periods=history).median().to_numpy()
                            for p in parts])
    resid = logs - level
    known = np.isfinite(resid)
    if not known.any():
        return empty
    spread = max(MAD_TO_SIGMA * float(np.median(np.abs(resid[known] - np.median(resid[known])))), MIN_SPREAD)
    with np.errstate(invalid="ignore"):
        high = known & (resid > z_min * spread) & (resid > np.log(ratio_min))
    # sudden: a spike starts with a jump of ``ratio_min``× from the point before (or continues a spike);
    # a loss that climbs steadily away from its trailing median is a rise, not a spike
    abrupt = np.r_[False, np.diff(logs) > np.log(ratio_min)]
    abrupt[[p.start for p in parts]] = False  # a segment's first point follows nothing of its own run
    idx = np.arange(len(y))
    last_jump = np.maximum.accumulate(np.where(abrupt & high, idx, -1))
    block_start = np.maximum.accumulate(np.where(high, -1, idx))  # the last point that was not high
    index = np.flatnonzero(high & (last_jump > block_start))  # a jump opened this run of high points
    return Spikes(index, np.exp(resid[index]), np.exp(level), spread)


def magnitude_spikes(y: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """The points of a loss that may be negative lying ``ratio`` times its typical magnitude above its
    median, and that magnitude at every point (the level the ratio is read against).

    The typical magnitude is the larger of the median absolute value and the median absolute deviation:
    a curve that crosses zero has a small median magnitude, but its spread still says how far it moves;
    both stay put while up to half the points are spikes. A spike must also rise that far above the lowest
    of the ``SPIKE_LOOKBACK`` points before it, so a high start that falls is not one.
    """
    centre = float(np.median(y))
    scale = max(float(np.median(np.abs(y))), float(np.median(np.abs(y - centre))), TINY)
    before = np.array([np.min(y[max(0, i - SPIKE_LOOKBACK):i]) if i else np.inf for i in range(len(y))])
    big = np.flatnonzero((y - centre >= ratio * scale) & (y - before >= ratio * scale))
    return big, np.full(len(y), scale)
