"""hyperparameter_importance: across runs where several keys vary, one key explains most of the spread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from diagnostics.base import ComparisonRule, register
from diagnostics.compare import show
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.importance import MIN_RUNS, importance
from diagnostics.rundata import RunData


@register
@dataclass(frozen=True)
class HyperparameterImportance(ComparisonRule):
    """What it detects:
    Runs given together (a random search, a grid over several keys) in which two or more config
    keys vary over at least eight scored runs, and one key explains at least ``dominant`` of the
    spread of the best validation score (fANOVA importance: the share of the variance of a
    random forest's prediction of the score that each key explains alone).

    Why it matters:
    The learning rate usually matters most, then momentum, width and batch size, while Adam's
    β1, β2 and ε rarely need tuning. Knowing which key moved the result tells where the next
    round of search should spend its runs, and which keys can stay at their defaults.

    Suggested fix:
    Tune the dominant key first: search a narrower range around its best value (coarse to fine)
    and leave the keys that matter little at the best run's values.

    Parameters:
    dominant: the share of the spread one key must explain to be named (0.6: more than all the
    others together, with a margin for the forest's noise).

    References:
    Hutter, Hoos & Leyton-Brown, "An Efficient Approach for Assessing Hyperparameter Importance"
    (ICML 2014); Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization" (2012).
    """

    id = "hyperparameter_importance"
    order = 240
    severity = "info"
    title = "One hyper-parameter explains most of the result"
    dominant: float = 0.6

    def check_runs(self, runs: Sequence[RunData]) -> list[Finding]:
        if len(runs) < MIN_RUNS:
            return []
        found = importance(runs)
        if found is None:
            return []
        key, share = found.top
        if share < self.dominant:
            return []
        best = found.best[key]
        values = {"metric": found.metric, "higher_is_better": found.higher_is_better, "shares": found.shares,
                  "dominant_key": key, "dominant_share": share, "runs": found.runs, "best_values": found.best,
                  "method": "fanova"}
        fix = Fix(f"Tune {key} first, around {show(best)}",
                  f"it explains {share:.0%} of the spread; the best run had {key}={show(best)}", {key: best})
        return [Finding(self.id, self.severity, f"{key} mattered most", found.words(),
                        Evidence(found.metric, None, None, values), (fix,))]
