"""Did the fix work? A verdict per fix from the parent run(s) and the runs launched with the fix.

Two questions, answered with numbers: did the finding go away (the rule re-run on the
fix's runs), and did the target metric move by more than the noise. The target is
the first of val AUC, val accuracy, val loss that every run logged (val loss only
when the loss itself was not changed by the patch, since a loss redefined is not
comparable). Noise is the seed-to-seed spread when repeats exist, never less than a
floor (MIN_MARGIN points of AUC/accuracy, MIN_REL_LOSS of the loss): one run per side
cannot tell a 0.3-point change from luck, and the verdict says so.

| finding after \\ metric | better than noise | within noise | worse than noise |
|---|---|---|---|
| gone in every run       | verified          | verified (says: metric unchanged) | did not help |
| gone in some runs       | inconclusive      | inconclusive | inconclusive |
| still there             | inconclusive      | did not help | did not help |
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from diagnostics.engine import diagnose
from diagnostics.findings import SEVERITY_RANK, Finding
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import SCORE_PREFERENCE, Monitor, score_monitor

VERDICTS = ("verified", "did not help", "inconclusive")
LOSS_KEYS = ("loss.name", "model.head")  # a patch touching these changes what val/loss means
MIN_MARGIN = 0.01  # AUC/accuracy points below which a change is indistinguishable from seed noise
MIN_REL_LOSS = 0.02  # the same for a loss, relative to the parent's value
NOISE_K = 2.0  # a change must exceed this many seed standard deviations
TINY = 1e-12  # keeps a relative margin defined for a loss of exactly 0


@dataclass(frozen=True)
class Verdict:
    verdict: str  # one of VERDICTS
    rule: str
    fix: str
    finding_gone: bool | None  # None when the parent did not show the finding either
    gone_in: tuple[int, int]  # (runs without the finding, fix runs judged)
    metric: str | None
    before: float | None
    after: float | None
    delta: float | None  # after - before, signed so that positive is better
    margin: float  # the change needed to beat the noise
    reason: str  # one sentence with the numbers


def has_finding(findings: Sequence[Finding], rule: str, at_least: str = "info") -> bool:
    """A finding of ``rule`` at ``at_least`` severity or worse."""
    return any(f.rule == rule and SEVERITY_RANK[f.severity] <= SEVERITY_RANK[at_least] for f in findings)


def final_score(run: RunData, name: str) -> float | None:
    """The last finite value of a metric (what the run ends with)."""
    series = run.get(name)
    if series is None:
        return None
    _, y = series.finite()
    return float(y[-1]) if len(y) else None


def pick_metric(before: Sequence[RunData], after: Sequence[RunData]) -> Monitor | None:
    """The score every run logged (``score_monitor``); val loss only when the patch left the loss alone."""
    loss_changed = any(r.config.get(k) != before[0].config.get(k) for r in after for k in LOSS_KEYS)
    preference = tuple(n for n in SCORE_PREFERENCE if not (n == "val/loss" and loss_changed))
    return score_monitor([{n for n in preference if final_score(r, n) is not None} for r in (*before, *after)],
                         preference)


def verify_fix(rule: str, before: Sequence[RunData], after: Sequence[RunData], fix: str = "",
               severity: str = "info") -> Verdict:
    """The verdict on one fix: ``before`` is the parent (plus repeats), ``after`` the fix's runs."""
    unfinished = [r for r in after if r.meta.get("status", "finished") != "finished"]
    if not before or not after or unfinished:
        why = (f"{len(unfinished)} fix run(s) did not finish ({unfinished[0].meta.get('status')})"
               if unfinished else "there are no runs to compare")
        return Verdict("inconclusive", rule, fix, None, (0, len(after)), None, None, None, None, 0.0,
                       f"Cannot judge: {why}.")
    had = any(has_finding(diagnose(r), rule, severity) for r in before)
    gone = sum(not has_finding(diagnose(r), rule, severity) for r in after)
    metric, b, a, delta, margin = score_change(before, after)
    gone_all, gone_none = gone == len(after), gone == 0
    finding_gone = (gone_all if gone_all or gone_none else None) if had else None
    verdict = _decide(had, gone_all, gone_none, delta, margin)
    reason = _reason(verdict, rule, had, gone, len(after), metric, b, a, delta, margin)
    return Verdict(verdict, rule, fix, finding_gone, (gone, len(after)), metric, b, a, delta, margin, reason)


def score_change(before: Sequence[RunData], after: Sequence[RunData]
                 ) -> tuple[str | None, float | None, float | None, float | None, float]:
    """(metric, before, after, change signed so that positive is better, the margin noise allows):
    the score every run logged, averaged per side; the margin is the seed spread, never below the floor."""
    monitor = pick_metric(before, after)
    if monitor is None:
        return None, None, None, None, 0.0
    b_scores = [final_score(r, monitor.name) for r in before]
    a_scores = [final_score(r, monitor.name) for r in after]
    b, a = float(np.mean(b_scores)), float(np.mean(a_scores))
    floor = MIN_MARGIN if monitor.higher_is_better else MIN_REL_LOSS * max(abs(b), TINY)
    return monitor.name, b, a, monitor.signed(a - b), max(floor, NOISE_K * _pooled_std([b_scores, a_scores]))


@dataclass(frozen=True)
class Against:
    """A run measured against its baseline, with the fixes' verdict logic: beyond the noise or not."""

    verdict: str  # one of AGAINST
    metric: str | None
    baseline: float | None
    run: float | None
    delta: float | None  # run - baseline, positive is better
    margin: float
    reason: str


AGAINST = ("better", "worse", "within noise", "not comparable")


def against_baseline(baseline: Sequence[RunData], runs: Sequence[RunData]) -> Against:
    """Is ``runs`` (a run, or its seed repeats) better or worse than ``baseline`` on the score, beyond noise?"""
    metric, b, a, delta, margin = score_change(baseline, runs)
    if metric is None or delta is None or b is None or a is None:
        return Against("not comparable", None, None, None, None, margin,
                       "No score that both the run and the baseline logged (val AUC, accuracy or loss).")
    verdict = "better" if delta > margin else "worse" if delta < -margin else "within noise"
    said = {"better": "better than", "worse": "worse than", "within noise": "within noise of"}[verdict]
    reason = (f"{metric} {a:.4g} vs the baseline's {b:.4g}: {said} the baseline "
              f"(change {delta:+.4g}, noise margin {margin:.2g}).")
    return Against(verdict, metric, b, a, delta, margin, reason)


def _pooled_std(groups: list[list[float]]) -> float:
    """Seed-to-seed standard deviation pooled over the groups that have repeats (0 when none do)."""
    variances = [(float(np.var(g, ddof=1)), len(g) - 1) for g in groups if len(g) > 1]
    dof = sum(d for _, d in variances)
    return math.sqrt(sum(v * d for v, d in variances) / dof) if dof else 0.0


def _decide(had: bool, gone_all: bool, gone_none: bool, delta: float | None, margin: float) -> str:
    better = delta is not None and delta > margin
    worse = delta is not None and delta < -margin
    if not had:  # nothing to make disappear: the metric alone decides
        return "verified" if better else "did not help" if worse else "inconclusive"
    if not (gone_all or gone_none):
        return "inconclusive"
    if gone_all:
        return "did not help" if worse else "verified"
    return "inconclusive" if better else "did not help"


def _reason(verdict: str, rule: str, had: bool, gone: int, n: int, metric: str | None, b: float | None,
            a: float | None, delta: float | None, margin: float) -> str:
    if not had:
        finding = f"The parent run did not show {rule}, so only the metric counts"
    elif gone == n:
        finding = f"{rule} is gone" + (f" in all {n} runs" if n > 1 else "")
    elif gone == 0:
        finding = f"{rule} is still there" + (f" in all {n} runs" if n > 1 else "")
    else:
        finding = f"{rule} is gone in only {gone} of {n} runs (seed-dependent)"
    if metric is None or delta is None:
        return f"{finding}; no metric that both runs logged to compare."
    change = (f"{metric} {b:.4g} → {a:.4g} ({'+' if a >= b else ''}{a - b:.3g}), "
              f"{'better' if delta > margin else 'worse' if delta < -margin else 'within the noise'}"
              f" (noise margin ±{margin:.2g})")
    return f"{finding}; {change}: {verdict}."


BASELINE = "baseline (no fix)"  # the variant label runner.plan gives repeats of the parent's config


def group_runs(group: Mapping[str, Any], parent: RunData, members: Sequence[RunData]
               ) -> tuple[RunData, list[RunData], dict[str, list[RunData]]]:
    """A fix group's runs sorted out: (parent, baseline repeats, fix runs by fix text).

    ``group`` is the group as stored (its ``spec`` names the variants); the caller reads the
    runs (``traindoc.handoff.fix_group``).
    """
    baseline: list[RunData] = []
    fixes: dict[str, list[RunData]] = {v["label"]: [] for v in group["spec"].get("variants", [])
                                       if v["label"] != BASELINE}
    for run in members:
        variant = run.meta.get("variant", "")
        (baseline if variant == BASELINE else fixes.setdefault(variant, [])).append(run)
    return parent, baseline, fixes


def group_verdicts(group: Mapping[str, Any], parent: RunData, members: Sequence[RunData]) -> list[Verdict]:
    """One verdict per fix of a finished fix group (the rule and severity are in the group's spec)."""
    spec = group["spec"]
    parent, baseline, fixes = group_runs(group, parent, members)
    before = baseline or [parent]
    return [verify_fix(spec.get("rule", ""), before, after, fix=text, severity=spec.get("severity", "info"))
            for text, after in fixes.items()]
