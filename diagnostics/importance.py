"""Which hyper-parameters mattered: each varying config key's share of the spread of the score.

Method: Optuna's fANOVA importance (``optuna.importance.FanovaImportanceEvaluator``) on an
in-memory study built from the runs (each run a trial: its config values the params, its best
score the value). fANOVA fits a random forest to score ~ keys and splits the variance of its
prediction into one part per key, so a share reads as "explains that much of the spread": the
doctor's own words. PED-ANOVA, Optuna's other evaluator, compares the top quantile of trials
with the rest; with the 8 to 30 runs a sweep usually has, that top holds two or three runs.

Optuna (and the scikit-learn forest under it) are imported here only when a group has at
least two varying keys over enough runs: diagnosing one run never loads them; without Optuna
installed the panel and the finding say nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from diagnostics.rundata import RunData
from diagnostics.sweeps import differing_keys
from traindoc.core.configs import LOG_KEYS
from traindoc.core.vocabulary import first_score_logged

MIN_RUNS = 8  # fewer scored runs than this over two or more keys: the forest fits noise, not an effect
LITTLE = 0.2  # under a fifth of the spread "matters little": with few runs the forest lends a key with no
# effect 10-20% (it splits on noise), so a lower bar would call a key that does nothing "some"
MOST = 0.5  # a key at or above this share "explains most of the spread"
SEED = 0  # the forest's seed: the same runs always give the same shares
N_TREES = 64  # Optuna's default forest size; a few hundred milliseconds on a sweep's runs


@dataclass(frozen=True)
class Importance:
    """Shares of the spread of ``metric`` (best over each run) per key, largest first, summing to 1."""

    metric: str
    higher_is_better: bool
    shares: dict[str, float]
    runs: int
    best: dict[str, Any]  # the config values of the best-scoring run, per key

    @property
    def top(self) -> tuple[str, float]:
        key = next(iter(self.shares))
        return key, self.shares[key]

    def words(self) -> str:
        """The doctor's sentence: "optim.lr explains most of the spread of val/auc (82%); optim.eps little (3%)"."""
        key, share = self.top
        lead = (f"{key} explains most of the spread of the best {self.metric} ({share:.0%})" if share >= MOST
                else f"{key} explains the largest part of the spread of the best {self.metric} ({share:.0%})")
        rest = [f"{k} {'little' if s < LITTLE else 'some'} ({s:.0%})" for k, s in list(self.shares.items())[1:]]
        return f"{lead}; {', '.join(rest)}; over {self.runs} runs."


SCALARS = (bool, int, float, str)  # what a search-space distribution can hold (an imported list or dict cannot)


def varying(runs: Sequence[RunData]) -> list[str]:
    """Config keys (seed and device aside) that every configured run sets, to a plain value, and that take
    two or more values."""
    configs = [dict(r.config) for r in runs if r.config]
    keys = differing_keys(configs) if len(configs) > 1 else []
    return [k for k in keys if all(isinstance(c.get(k), SCALARS) for c in configs)]


def importance(runs: Sequence[RunData]) -> Importance | None:
    """The key shares for runs where two or more keys vary over at least ``MIN_RUNS`` scored runs; else None."""
    keys = varying(runs)
    if len(keys) < 2:
        return None
    picked = first_score_logged([r for r in runs if r.config], RunData.best, MIN_RUNS)
    if picked is None:
        return None
    monitor, scored = picked
    keys = [k for k in keys if len({repr(r.config[k]) for r, _ in scored}) > 1]
    if len(keys) < 2 or len({s for _, s in scored}) < 2:  # every run scored the same: nothing to explain
        return None
    rows = tuple((tuple(r.config[k] for k in keys), s) for r, s in scored)
    shares = _fanova(tuple(keys), rows, monitor.higher_is_better)
    if shares is None:
        return None
    best_run = (max if monitor.higher_is_better else min)(scored, key=lambda p: p[1])[0]
    return Importance(monitor.name, monitor.higher_is_better, shares, len(scored),
                      {k: best_run.config[k] for k in keys})


def _distribution(key: str, values: Sequence[Any]) -> Any:
    """The search space a key's values came from: log scale for lr, ε and weight decay (all positive),
    integers for integer keys, a categorical for anything else (names, flags)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numbers:
        return CategoricalDistribution(sorted({v for v in values}, key=repr))
    lo, hi = min(values), max(values)
    log = key in LOG_KEYS and lo > 0
    if all(isinstance(v, int) for v in values):
        return IntDistribution(int(lo), int(hi), log=log)
    return FloatDistribution(float(lo), float(hi), log=log)


@lru_cache(maxsize=32)  # the compare page asks for the panel and the finding on the same runs
def _fanova(keys: tuple[str, ...], rows: tuple[tuple[tuple[Any, ...], float], ...],
            maximize: bool) -> dict[str, float] | None:
    try:
        import optuna
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {k: _distribution(k, [values[i] for values, _ in rows]) for i, k in enumerate(keys)}
    study = optuna.create_study(direction="maximize" if maximize else "minimize")
    for values, score in rows:
        params = {k: (float(v) if isinstance(dists[k], optuna.distributions.FloatDistribution) else v)
                  for k, v in zip(keys, values, strict=True)}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=float(score)))
    evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=N_TREES, seed=SEED)
    try:
        raw = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    except RuntimeError:  # the forest found no variance to split (scores equal up to rounding)
        return None
    if not raw or not all(math.isfinite(v) for v in raw.values()):
        return None  # every run scored the same: nothing to split
    return {k: float(v) for k, v in sorted(raw.items(), key=lambda kv: -kv[1])}
