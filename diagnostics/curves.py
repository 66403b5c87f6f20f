"""Vectorised curve helpers shared by the rules: cleaning, binning, smoothing, levels.

Rules judge smoothed trends, never single points; long per-step curves are first
reduced to at most a few thousand bin means so a million-point run stays fast.
"""

from __future__ import annotations

import numpy as np

from diagnostics.rundata import Series

MAX_POINTS = 2000  # enough resolution for every trend a rule judges


def finite(series: Series | None) -> tuple[np.ndarray, np.ndarray]:
    """Steps and finite values; empty arrays for a missing series."""
    if series is None:
        return np.empty(0), np.empty(0)
    return series.finite()


def binned(x: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-count bins: centre step, mean and standard deviation per bin (len(x) >= bins)."""
    edges = np.linspace(0, len(y), bins + 1).astype(np.int64)[:-1]
    count = np.diff(np.append(edges, len(y)))
    mean = np.add.reduceat(y, edges) / count
    sq = np.add.reduceat(y * y, edges) / count
    std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    centre = np.add.reduceat(x, edges) / count
    return centre, mean, std


def reduce(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: bin means of a long curve, the curve itself otherwise."""
    if len(y) <= max_points:
        return x, y
    centre, mean, _ = binned(x, y, max_points)
    return centre, mean


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (window shrinks at the edges), via cumulative sums."""
    n = len(y)
    if n == 0 or window <= 1:
        return y.astype(float)
    half = window // 2
    csum = np.concatenate([[0.0], np.cumsum(y, dtype=float)])
    idx = np.arange(n)
    lo = np.clip(idx - half, 0, n)
    hi = np.clip(idx + half + 1, 0, n)
    return (csum[hi] - csum[lo]) / (hi - lo)


def refine_min(y: np.ndarray, b: int, around: int) -> int:
    """Where a minimum really is, near ``b`` found on heavily smoothed data.

    A wide window makes a decision robust to noise but drags the minimum of a long,
    asymmetric curve toward its flat side; the reported step comes from a light
    smoothing within ``around`` points of ``b``.
    """
    lo, hi = max(0, b - around), min(len(y), b + around + 1)
    light = smooth(y, window(len(y), 0.005, lo=1, hi=3))
    return lo + int(np.argmin(light[lo:hi]))


def window(n: int, frac: float = 0.1, lo: int = 3, hi: int = 501) -> int:
    """An odd smoothing window of about ``frac`` of the curve."""
    w = int(np.clip(round(n * frac), min(lo, n), hi))
    return w if w % 2 else w + 1


def level(y: np.ndarray, frac: float, end: bool, min_n: int = 1) -> float:
    """Median of the first (or last) ``frac`` of a curve: a level robust to single points."""
    k = max(min_n, int(np.ceil(len(y) * frac)))
    part = y[-k:] if end else y[:k]
    return float(np.median(part))


def robust_noise(y: np.ndarray, trend: np.ndarray) -> float:
    """Scale of the wiggle around the trend (MAD times 1.4826 ~ a standard deviation)."""
    if len(y) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(y - trend)))


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y over x."""
    if len(x) < 2:
        return 0.0
    xc = x - x.mean()
    denom = float(xc @ xc)
    return float(xc @ (y - y.mean()) / denom) if denom else 0.0


def r_squared(x: np.ndarray, y: np.ndarray) -> float:
    """How straight a curve is: share of its variance a line explains."""
    if len(x) < 3:
        return 0.0
    b = slope(x, y)
    resid = y - (y.mean() + b * (x - x.mean()))
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float((resid**2).sum()) / total if total > 0 else 0.0


def fmt(value: float) -> str:
    """A number for a sentence: 3 significant digits, scientific when tiny or huge."""
    if value is None or not np.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.3g}"
