"""Trend statistics the rules share: the Mann-Kendall test and the Theil-Sen slope, in numpy.

scipy.stats has both (``kendalltau``, ``theilslopes``), but importing it costs about 1.5 s and
``tests/test_layers.py`` keeps the diagnostics CLI free of scipy; the curves judged here are
short (a rule reduces a long one first), so the O(n²) pairwise forms are fast. The tests
check both against scipy.
"""

from __future__ import annotations

import math

import numpy as np

MAX_PAIRS_POINTS = 400  # longer curves are thinned to this many points: 80k pairs, well under a millisecond


def _thin(y: np.ndarray) -> np.ndarray:
    if len(y) <= MAX_PAIRS_POINTS:
        return y
    return y[np.linspace(0, len(y) - 1, MAX_PAIRS_POINTS).round().astype(np.int64)]


def mann_kendall_p(y: np.ndarray) -> float:
    """One-sided p-value that ``y`` rises with its order (Mann-Kendall, normal approximation).

    S counts rising minus falling pairs; its variance carries the tie correction and z the
    continuity correction, as in Hipel & McLeod (1994). 1.0 for fewer than two distinct values.
    """
    y = _thin(np.asarray(y, dtype=float))
    n = len(y)
    if n < 2 or np.ptp(y) == 0:
        return 1.0
    i, j = np.triu_indices(n, k=1)
    s = float(np.sign(y[j] - y[i]).sum())
    _, counts = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float((counts * (counts - 1) * (2 * counts + 5)).sum())) / 18.0
    if var <= 0:
        return 1.0
    z = (s - math.copysign(1.0, s)) / math.sqrt(var) if s else 0.0
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def theil_sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The median of the pairwise slopes (Theil 1950, Sen 1968): robust to a third of outliers."""
    x, y = _thin(np.asarray(x, dtype=float)), _thin(np.asarray(y, dtype=float))
    if len(y) < 2:
        return 0.0
    i, j = np.triu_indices(len(y), k=1)
    dx = x[j] - x[i]
    ok = dx != 0
    return float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0


MAD_TO_SD = 1.4826  # a median absolute deviation times this estimates a normal standard deviation


def diff_noise(y: np.ndarray) -> float:
    """The point noise from successive differences (their MAD about the median step, / sqrt 2): a steady
    trend shifts every difference alike and one level shift moves a single one, so neither counts."""
    if len(y) < 2:
        return 0.0
    d = np.diff(y)
    return float(MAD_TO_SD * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def sign_test_p(above: int, n: int) -> float:
    """One-sided sign test: the chance of ``above`` or more of ``n`` fair coin flips landing heads."""
    if n <= 0:
        return 1.0
    return float(sum(math.comb(n, k) for k in range(max(above, 0), n + 1)) / 2.0**n)
