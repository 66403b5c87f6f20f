"""Run every applicable rule on a run; a rule that crashes becomes an ``info`` finding.

``diagnose`` never raises because of a rule: a page showing a run must not go down
because one detector met a curve it did not expect.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from diagnostics.base import Rule, all_rules, order_of
from diagnostics.bounds import Bounds, in_force
from diagnostics.findings import SEVERITY_RANK, Evidence, Finding
from diagnostics.rundata import RunData


def diagnose(
    run: RunData,
    rules: Iterable[Rule] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    bounds: Bounds | None = None,
) -> list[Finding]:
    """Findings for one run, most severe first (causes before symptoms among equals).

    ``rules`` defaults to every registered rule (with ``params`` overrides by rule id).
    Rules whose metrics are absent are skipped; a finding whose rule lists a fired
    rule in ``explained_by`` is dropped (the more specific cause already says it), and
    so is one whose rule a kept finding ``explains`` from its evidence. A finding is
    never dropped by a rule it explains itself. ``bounds`` (key → allowed range, from the
    caller: the runner's config schema) keeps the numbers in the fixes' patches launchable.
    """
    active = list(rules) if rules is not None else all_rules(params)
    findings: list[Finding] = []
    with in_force(bounds):
        for rule in active:
            if not rule.applies(run):
                continue
            try:
                findings.extend(rule.check(run))
            except Exception as exc:  # a broken rule must not take the report down
                findings.append(_crashed(rule, exc))
    return sort_findings(resolve(findings, {r.id: r for r in active}))


def resolve(findings: list[Finding], by_id: dict[str, Rule]) -> list[Finding]:
    """Drop the findings another one explains: statically (``explained_by``) or by its evidence (``explains``)."""
    fired = {f.rule for f in findings}
    kept = [
        f
        for f in findings
        if not (fired - set(f.explains)).intersection(getattr(by_id.get(f.rule), "explained_by", ()))
    ]
    explained = {rule for f in kept for rule in f.explains if rule != f.rule}
    return [f for f in kept if f.rule not in explained]


def rank_key(finding: Finding) -> tuple[int, int]:
    """Sort key: severity first, then the more explanatory rule first (the ``order`` its class declares).

    Among equals, causes come before the symptoms they produce: a diverging loss explains
    everything after it, gradients and step size explain oscillation, dead units and stalls;
    the info-level bookkeeping (where to stop) comes last. Here, beside the registry's user, so that
    ``findings`` (which the registry imports) imports nothing back.
    """
    return SEVERITY_RANK[finding.severity], order_of(finding.rule)


def worst(findings: list[Finding]) -> Finding | None:
    """The most severe finding, the most explanatory of equals, for the overview's one-line verdict."""
    return min(findings, key=rank_key, default=None)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then the more explanatory rule; ties keep the order the rules produced them in."""
    return sorted(findings, key=rank_key)


def _crashed(rule: Rule, exc: Exception) -> Finding:
    return Finding(
        rule=rule.id,
        severity="info",
        title=f"Rule {rule.id} could not judge this run",
        summary=f"The {rule.id} rule failed on this run ({type(exc).__name__}: {exc}); "
        "its verdict is missing.",
        evidence=Evidence(metric="", values={"error": f"{type(exc).__name__}: {exc}"}),
    )
