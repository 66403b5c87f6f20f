"""diagnostics.trend against scipy.stats: the rules use the numpy forms to keep scipy out of the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from diagnostics.trend import diff_noise, mann_kendall_p, theil_sen_slope


@pytest.mark.parametrize("n", [5, 8, 20, 60, 300])
def test_mann_kendall_p_matches_scipy_kendalltau(n):
    rng = np.random.default_rng(n)
    for drift in (0.0, 0.05, 0.3):
        y = np.cumsum(rng.normal(drift, 1.0, n))
        ours = mann_kendall_p(y)
        theirs = stats.kendalltau(np.arange(n), y, alternative="greater").pvalue
        assert ours == pytest.approx(theirs, abs=0.1 if n < 10 else 0.01)  # the normal approximation, exact p beside it
        assert (ours <= 0.05) == (theirs <= 0.05) or abs(ours - theirs) < 0.02


def test_mann_kendall_handles_ties_and_flat_curves():
    assert mann_kendall_p(np.ones(10)) == 1.0
    tied = np.array([1, 1, 2, 2, 3, 3, 4, 4], dtype=float)
    assert mann_kendall_p(tied) == pytest.approx(
        stats.kendalltau(np.arange(8), tied, alternative="greater", method="asymptotic").pvalue, abs=0.01)
    assert mann_kendall_p(tied[::-1]) > 0.99


def test_theil_sen_matches_scipy_and_ignores_outliers():
    rng = np.random.default_rng(1)
    x = np.arange(50, dtype=float)
    y = 0.3 * x + rng.normal(0, 0.5, 50)
    y[::7] += 40  # outliers
    assert theil_sen_slope(x, y) == pytest.approx(stats.theilslopes(y, x)[0], rel=1e-9)
    assert theil_sen_slope(x, y) == pytest.approx(0.3, abs=0.05)


def test_diff_noise_sees_the_noise_not_the_trend_or_a_step():
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 0.1, 400)
    trended = np.linspace(0, 50, 400) + noise
    stepped = np.where(np.arange(400) < 200, 0.0, 5.0) + noise
    for y in (trended, stepped):
        assert diff_noise(y) == pytest.approx(0.1, rel=0.15)
