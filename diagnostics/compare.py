"""Cross-run findings: every registered ``ComparisonRule`` over the runs given together.

Runs form a sweep over key K when their configs agree on every other key (the seed
and device aside: several seeds per value are averaged, and their spread is the noise
the sensitivity must beat). The rules themselves live in ``diagnostics/rules/``
(``sensitivity.py``: a result that depends on ε, lr, weight decay, batch size or dropout;
``depth_sensitivity.py``: a deeper net that fits the training set worse;
``hyperparameter_importance.py``: over several varying keys, the one that explains most of the result).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from diagnostics.base import ComparisonRule, all_comparisons
from diagnostics.engine import sort_findings
from diagnostics.findings import Finding
from diagnostics.rundata import RunData

IGNORED = ("train.seed", "train.device")  # differ between repeats of one setting, not a swept axis


def compare(runs: Sequence[RunData], rules: Sequence[ComparisonRule] | None = None,
            params: dict[str, dict[str, Any]] | None = None) -> list[Finding]:
    """Cross-run findings for runs that form sweeps, most severe first."""
    runs = [r for r in runs if r.config]
    active = list(rules) if rules is not None else all_comparisons(params)
    return sort_findings(f for rule in active for f in rule.check_runs(runs))


def sweep_groups(runs: Sequence[RunData], key: str) -> list[list[RunData]]:
    """Groups of runs identical except for ``key`` (and seed/device), with at least two values of it."""
    buckets: dict[tuple, list[RunData]] = defaultdict(list)
    for run in runs:
        if run.config.get(key) is None:
            continue
        rest = tuple(sorted((k, repr(v)) for k, v in run.config.items() if k != key and k not in IGNORED))
        buckets[rest].append(run)
    return [m for m in buckets.values() if len({as_number(r.config[key]) for r in m}) >= 2]


def as_number(value: Any) -> Any:
    """A swept value as a float when it is one (``"1e-8"`` and ``1e-08`` are the same setting)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def show(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
