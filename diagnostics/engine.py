"""Run every applicable rule on a run; a rule that crashes becomes an ``info`` finding.

``diagnose`` never raises because of a rule: a page showing a run must not go down
because one detector met a curve it did not expect.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from diagnostics.base import Rule, all_rules
from diagnostics.findings import SEVERITY_RANK, Evidence, Finding
from diagnostics.rundata import RunData


def diagnose(
    run: RunData, rules: Iterable[Rule] | None = None, params: dict[str, dict[str, Any]] | None = None
) -> list[Finding]:
    """Findings for one run, most severe first.

    ``rules`` defaults to every registered rule (with ``params`` overrides by rule id).
    Rules whose metrics are absent are skipped; a finding whose rule lists a fired
    rule in ``explained_by`` is dropped (the more specific cause already says it).
    """
    active = list(rules) if rules is not None else all_rules(params)
    findings: list[Finding] = []
    for rule in active:
        if not rule.applies(run):
            continue
        try:
            findings.extend(rule.check(run))
        except Exception as exc:  # a broken rule must not take the report down
            findings.append(_crashed(rule, exc))
    fired = {f.rule for f in findings}
    by_id = {r.id: r for r in active}
    kept = [f for f in findings if not fired.intersection(getattr(by_id.get(f.rule), "explained_by", ()))]
    return sort_findings(kept)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; ties keep the order the rules produced them in."""
    return sorted(findings, key=lambda f: SEVERITY_RANK[f.severity])


def _crashed(rule: Rule, exc: Exception) -> Finding:
    return Finding(
        rule=rule.id,
        severity="info",
        title=f"Rule {rule.id} could not judge this run",
        summary=f"The {rule.id} rule failed on this run ({type(exc).__name__}: {exc}); "
        "its verdict is missing.",
        evidence=Evidence(metric="", values={"error": f"{type(exc).__name__}: {exc}"}),
    )
