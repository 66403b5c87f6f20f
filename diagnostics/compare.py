"""Cross-run findings: sweeps over one config key, and "deeper is worse on the training set".

Runs form a sweep over key K when their configs agree on every other key (the seed
and device aside: several seeds per value are averaged, and their spread is the noise
the sensitivity must beat). Each sweep scores its runs on the best value of the first
metric they all log (val AUC, val accuracy, val loss) and names the best setting.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from diagnostics.engine import sort_findings
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rundata import RunData


@dataclass(frozen=True)
class SweepRule:
    id: str
    key: str
    label: str
    log_axis: bool


SWEEPS = (
    SweepRule("epsilon_sensitivity", "optim.eps", "Adam's ε", True),
    SweepRule("lr_sensitivity", "optim.lr", "the learning rate", True),
    SweepRule("weight_decay_sensitivity", "optim.weight_decay", "weight decay", True),
    SweepRule("batch_size_sensitivity", "train.batch_size", "the batch size", True),
    SweepRule("dropout_sensitivity", "model.dropout", "dropout", False),
)
DEPTH_KEY = "model.depth"
IGNORED = ("train.seed", "train.device")
SCORES = (("val/auc", True), ("val/acc", True), ("val/loss", False))
METRIC_SPREAD = 0.05  # AUC/accuracy points between best and worst setting that count as sensitive
LOSS_SPREAD = 0.2  # relative spread of the best val loss that counts as sensitive
NOISE_K = 2.0  # the spread must also exceed this many seed-to-seed standard deviations

DOC = """What it detects:
Across runs that differ only in {key} (seeds aside), the best {metric} swings by a clear
margin: at least {spread:g} AUC/accuracy points, or {loss:.0%} of the best val loss, and more
than twice the seed-to-seed spread. Names the best setting. When the spread is small it
reports, as info, that the result is insensitive over the tried range.

Why it matters:
A result that depends on {label} is only as good as the value someone happened to pick;
{why}

Suggested fix:
Use the best setting found; treat {key} as a hyper-parameter and sweep it (log-spaced
where the axis is logarithmic).

Parameters:
METRIC_SPREAD={spread:g}, LOSS_SPREAD={loss:g}, NOISE_K={noise:g} (module constants of diagnostics.compare).

References:
Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization" (2012); Choi et al.,
"On Empirical Comparisons of Optimizers for Deep Learning" (2019).
"""
WHY = {
    "optim.eps": "one seed moved test AUC from 0.6 to 0.9 with ε from 0.1 to 1e-6.",
    "optim.lr": "the learning rate is the most important hyper-parameter of all.",
    "optim.weight_decay": "a weight decay of 5e-4 took one seed's test AUC from 0.88 to 0.68.",
    "train.batch_size": "too small a batch jitters, too large a batch plateaus early.",
    "model.dropout": "too little dropout overfits, too much underfits.",
}


def sweep_doc(rule: SweepRule) -> str:
    return DOC.format(
        key=rule.key,
        label=rule.label,
        metric="val AUC / accuracy / loss",
        spread=METRIC_SPREAD,
        loss=LOSS_SPREAD,
        noise=NOISE_K,
        why=WHY[rule.key],
    )


def compare(runs: Sequence[RunData]) -> list[Finding]:
    """Cross-run findings for runs that form sweeps, most severe first."""
    runs = [r for r in runs if r.config]
    findings: list[Finding] = []
    for rule in SWEEPS:
        for members in _sweeps(runs, rule.key):
            found = _sensitivity(rule, members)
            if found is not None:
                findings.append(found)
    for members in _sweeps(runs, DEPTH_KEY):
        found = _deeper_is_worse(members)
        if found is not None:
            findings.append(found)
    return sort_findings(findings)


def _sweeps(runs: Sequence[RunData], key: str) -> list[list[RunData]]:
    """Groups of runs identical except for ``key`` (and seed/device), with at least two values of it."""
    buckets: dict[tuple, list[RunData]] = defaultdict(list)
    for run in runs:
        if run.config.get(key) is None:
            continue
        rest = tuple(sorted((k, repr(v)) for k, v in run.config.items() if k != key and k not in IGNORED))
        buckets[rest].append(run)
    return [m for m in buckets.values() if len({_num(r.config[key]) for r in m}) >= 2]


def _num(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _score(run: RunData, name: str, higher: bool) -> float | None:
    series = run.get(name)
    if series is None:
        return None
    _, y = series.finite()
    if len(y) == 0:
        return None
    return float(y.max() if higher else y.min())


def _pick_metric(members: list[RunData]) -> tuple[str, bool] | None:
    for name, higher in SCORES:
        if sum(_score(r, name, higher) is not None for r in members) >= 2:
            return name, higher
    return None


def _sensitivity(rule: SweepRule, members: list[RunData]) -> Finding | None:
    picked = _pick_metric(members)
    if picked is None:
        return None
    name, higher = picked
    per_value: dict[Any, list[float]] = defaultdict(list)
    for run in members:
        score = _score(run, name, higher)
        # a run that never logged the metric (diverged) counts as the worst outcome
        per_value[_num(run.config[rule.key])].append(score if score is not None else math.nan)
    points = []
    for value in sorted(per_value, key=lambda v: (isinstance(v, str), v)):
        scores = np.array(per_value[value])
        ok = scores[np.isfinite(scores)]
        points.append(
            {
                "value": value,
                "score": float(ok.mean()) if len(ok) else None,
                "runs": len(scores),
                "failed": int((~np.isfinite(scores)).sum()),
                "seed_std": float(ok.std()) if len(ok) > 1 else 0.0,
            }
        )
    scored = [p for p in points if p["score"] is not None]
    if len(scored) < 2 and not any(p["failed"] for p in points):
        return None
    best = (max if higher else min)(scored, key=lambda p: p["score"])
    worst = (min if higher else max)(scored, key=lambda p: p["score"])
    spread = abs(best["score"] - worst["score"])
    noise = max(p["seed_std"] for p in scored)
    failed = [p for p in points if p["failed"]]
    relative = spread / max(abs(best["score"]), 1e-12)
    sensitive = (spread >= METRIC_SPREAD if higher else relative >= LOSS_SPREAD) and spread > NOISE_K * noise
    sensitive = sensitive or bool(failed)
    kind = "best" if higher else "lowest"
    tried = ", ".join(f"{p['value']:g}" if isinstance(p["value"], float) else str(p["value"]) for p in points)
    fail_text = (
        f"; {sum(p['failed'] for p in failed)} run(s) never logged {name} "
        f"(at {', '.join(_show(p['value']) for p in failed)})"
        if failed
        else ""
    )
    values = {
        "key": rule.key,
        "metric": name,
        "higher_is_better": higher,
        "points": points,
        "best_value": best["value"],
        "best_score": best["score"],
        "worst_value": worst["value"],
        "worst_score": worst["score"],
        "spread": spread,
        "seed_noise": noise,
        "log_axis": rule.log_axis,
        "runs": [r.meta.get("run_id") or r.meta.get("source") for r in members],
    }
    if sensitive:
        summary = (
            f"The {kind} {name} depends on {rule.key}: {_show(best['score'])} "
            f"at {rule.key}={_show(best['value'])}"
            f" vs {_show(worst['score'])} at {_show(worst['value'])} (tried {tried}){fail_text}."
        )
        severity, title = "warning", f"Sensitive to {rule.key}"
    else:
        summary = (
            f"{name} barely depends on {rule.key} over {tried}: spread {_show(spread)}; "
            f"best at {rule.key}={_show(best['value'])} ({_show(best['score'])})."
        )
        severity, title = "info", f"Insensitive to {rule.key} over the tried range"
    fixes = (
        Fix(
            f"Use {rule.key}={_show(best['value'])}",
            f"the {kind} {name} of the sweep ({_show(best['score'])})",
            {rule.key: best["value"]},
        ),
    )
    return Finding(rule.id, severity, title, summary, Evidence(name, None, None, values), fixes)


def _deeper_is_worse(members: list[RunData]) -> Finding | None:
    """Deeper nets with a higher training loss are under-trained, not overfit (He et al. 2015)."""
    points = []
    for run in members:
        series = run.first("train/loss_eval", "train/loss_epoch", "train/loss")
        if series is None:
            continue
        _, y = series.finite()
        if len(y):
            points.append((float(run.config[DEPTH_KEY]), float(np.median(y[-max(1, len(y) // 10) :]))))
    if len({d for d, _ in points}) < 2:
        return None
    points.sort()
    shallow, deep = points[0], points[-1]
    if deep[1] <= 1.2 * shallow[1] or deep[1] - shallow[1] < 0.05:
        return None
    summary = (
        f"The deeper net fits the training set worse: depth {deep[0]:g} ends at train loss {deep[1]:.3g} vs "
        f"{shallow[1]:.3g} at depth {shallow[0]:g}. That is under-training (optimisation), not overfitting."
    )
    values = {"key": DEPTH_KEY, "points": [{"value": d, "train_loss": v} for d, v in points]}
    fixes = (
        Fix(
            "Add residual connections or batch norm to the deep net",
            "they make deep stacks trainable",
            {"model.batch_norm": True},
        ),
        Fix(f"Use depth {shallow[0]:g}", "it fits the training set better", {DEPTH_KEY: int(shallow[0])}),
    )
    return Finding(
        "underfitting",
        "warning",
        "Deeper is worse on the training set",
        summary,
        Evidence("train/loss", None, None, values),
        fixes,
    )


def _show(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
