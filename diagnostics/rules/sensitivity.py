"""Sensitivity to one hyper-parameter: across a sweep, the result swings with ε, lr, weight decay, batch size, dropout.

One comparison rule per key, all of one shape (``Sensitivity``): the catalog text is the
same template filled in per key, and the thresholds are the rule's parameters.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from diagnostics.base import ComparisonRule, register
from diagnostics.compare import as_number, show, sweep_groups
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import SCORE_PREFERENCE, Monitor, first_score_logged, higher_is_better

SCORE_FLOOR = 1e-12  # a best val loss of zero: the relative spread stays finite

DOC = """What it detects:
Across runs that differ only in {key} (seeds aside), the best {metric} swings by a clear
margin: at least {metric_spread:g} AUC/accuracy points, or {loss_spread:.0%} of the best val loss, and more
than {noise_k:g} times the seed-to-seed spread. Names the best setting. When the spread is small it
reports, as info, that the result is insensitive over the tried range.

Why it matters:
A result that depends on {label} is only as good as the value someone happened to pick;
{why}

Suggested fix:
Use the best setting found; treat {key} as a hyper-parameter and sweep it ({sweep_how}).

Parameters:
metric_spread: AUC/accuracy points between the best and worst setting that count as sensitive ({metric_spread:g}).
loss_spread: the relative spread of the best val loss that counts as sensitive ({loss_spread:g}).
noise_k: the spread must also exceed this many seed-to-seed standard deviations ({noise_k:g}).

References:
Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization" (2012); Choi et al.,
"On Empirical Comparisons of Optimizers for Deep Learning" (2019).
"""


@dataclass(frozen=True)
class Sensitivity(ComparisonRule):
    """The shape of a sensitivity rule; a subclass names the key (and registers itself)."""

    label: ClassVar[str] = ""
    why: ClassVar[str] = ""
    log_axis: ClassVar[bool] = True
    categorical: ClassVar[bool] = False  # a choice among names (optimizer, activation): no axis, no order
    # a loss value is only comparable between runs that minimise the same loss: a sweep of the loss
    # itself is judged on a score (val AUC or accuracy) alone
    scores_only: ClassVar[bool] = False
    metric_spread: float = 0.05
    loss_spread: float = 0.2
    noise_k: float = 2.0

    @classmethod
    def doc(cls) -> str:
        defaults = {f.name: f.default for f in fields(cls)}
        how = ("its allowed choices, each with a few seeds" if cls.categorical
               else "log-spaced" if cls.log_axis else "evenly spaced")
        return DOC.format(key=cls.key, label=cls.label, why=cls.why, metric="val AUC / accuracy / loss",
                          sweep_how=how, **defaults)

    def check_runs(self, runs: Sequence[RunData]) -> list[Finding]:
        found = (self._sensitivity(members) for members in sweep_groups(runs, self.key))
        return [f for f in found if f is not None]

    def _monitor(self, members: list[RunData]) -> Monitor | None:
        """The first preferred score at least two runs logged; else, in a sweep where some runs ended
        before logging any score (stopped or failed early), the first score one run logged: the
        others count as failed, the worst outcome."""
        if len(members) < 2:
            return None
        preference = tuple(n for n in SCORE_PREFERENCE if higher_is_better(n) or not self.scores_only)
        for enough in (2, 1):
            picked = first_score_logged(members, RunData.best, enough, preference)
            if picked is not None:
                return picked[0]
        return None

    def _sensitivity(self, members: list[RunData]) -> Finding | None:
        monitor = self._monitor(members)
        if monitor is None:
            return None
        name, higher = monitor.name, monitor.higher_is_better
        per_value: dict[Any, list[float]] = defaultdict(list)
        for run in members:
            # a run that never logged the metric, or that the live doctor stopped on a critical
            # finding (a divergence), counts as the worst outcome whatever it scored before
            score = None if run.meta.get("stopped_by") else run.best(monitor)
            per_value[as_number(run.config[self.key])].append(score if score is not None else math.nan)
        points = []
        for value in sorted(per_value, key=lambda v: (isinstance(v, str), v)):
            scores = np.array(per_value[value])
            ok = scores[np.isfinite(scores)]
            points.append({"value": value, "score": float(ok.mean()) if len(ok) else None, "runs": len(scores),
                           "failed": int((~np.isfinite(scores)).sum()),
                           "seed_std": float(ok.std()) if len(ok) > 1 else 0.0})
        scored = [p for p in points if p["score"] is not None]
        if len(scored) < 2 and not any(p["failed"] for p in points):
            return None
        best = (max if higher else min)(scored, key=lambda p: p["score"])
        worst = (min if higher else max)(scored, key=lambda p: p["score"])
        spread = abs(best["score"] - worst["score"])
        noise = max(p["seed_std"] for p in scored)
        failed = [p for p in points if p["failed"]]
        relative = spread / max(abs(best["score"]), SCORE_FLOOR)
        sensitive = (spread >= self.metric_spread if higher else relative >= self.loss_spread) and (
            spread > self.noise_k * noise)
        sensitive = sensitive or bool(failed)
        kind = "best" if higher else "lowest"
        tried = ", ".join(f"{p['value']:g}" if isinstance(p["value"], float) else str(p["value"]) for p in points)
        fail_text = (f"; {sum(p['failed'] for p in failed)} run(s) stopped by the doctor or never logged {name} "
                     f"(at {', '.join(show(p['value']) for p in failed)})" if failed else "")
        values = {
            "key": self.key, "metric": name, "higher_is_better": higher, "points": points,
            "best_value": best["value"], "best_score": best["score"], "worst_value": worst["value"],
            "worst_score": worst["score"], "spread": spread, "seed_noise": noise,
            "log_axis": self.log_axis and not self.categorical, "categorical": self.categorical,
            "runs": [r.meta.get("run_id") or r.meta.get("source") for r in members],
        }
        if sensitive:
            summary = (f"The {kind} {name} depends on {self.key}: {show(best['score'])} "
                       f"at {self.key}={show(best['value'])}"
                       f" vs {show(worst['score'])} at {show(worst['value'])} (tried {tried}){fail_text}.")
            if self.categorical:  # a choice: name the best and the worst
                summary = (f"The choice of {self.key} matters: {self.key}={show(best['value'])} gives the {kind} "
                           f"{name} ({show(best['score'])}), {show(worst['value'])} the worst "
                           f"({show(worst['score'])}), beyond the seed noise ({show(noise)}); "
                           f"tried {tried}{fail_text}.")
            severity, title = "warning", f"Sensitive to {self.key}"
        else:
            summary = (f"{name} barely depends on {self.key} over {tried}: spread {show(spread)}; "
                       f"best at {self.key}={show(best['value'])} ({show(best['score'])}).")
            severity, title = "info", f"Insensitive to {self.key} over the tried range"
        fixes = (Fix(f"Use {self.key}={show(best['value'])}", f"the {kind} {name} of the sweep ({show(best['score'])})",
                     {self.key: best["value"]}),)
        return Finding(self.id, severity, title, summary, Evidence(name, None, None, values), fixes)


@register
@dataclass(frozen=True)
class EpsilonSweep(Sensitivity):
    id = "epsilon_sensitivity"  # the same finding as the in-run rule of that id, seen across an ε sweep
    order = 50
    title = "Result sensitive to Adam's ε"
    key = "optim.eps"
    label = "Adam's ε"
    why = "one seed moved test AUC from 0.6 to 0.9 with ε from 0.1 to 1e-6."


@register
@dataclass(frozen=True)
class LrSensitivity(Sensitivity):
    id = "lr_sensitivity"
    order = 160
    title = "Result sensitive to the learning rate"
    key = "optim.lr"
    label = "the learning rate"
    why = "the learning rate is the most important hyper-parameter of all."


@register
@dataclass(frozen=True)
class WeightDecaySensitivity(Sensitivity):
    id = "weight_decay_sensitivity"
    order = 170
    title = "Result sensitive to weight decay"
    key = "optim.weight_decay"
    label = "weight decay"
    why = "a weight decay of 5e-4 took one seed's test AUC from 0.88 to 0.68."


@register
@dataclass(frozen=True)
class BatchSizeSensitivity(Sensitivity):
    id = "batch_size_sensitivity"
    order = 180
    title = "Result sensitive to the batch size"
    key = "train.batch_size"
    label = "the batch size"
    why = "too small a batch jitters, too large a batch plateaus early."


@register
@dataclass(frozen=True)
class DropoutSensitivity(Sensitivity):
    id = "dropout_sensitivity"
    order = 190
    title = "Result sensitive to dropout"
    key = "model.dropout"
    label = "dropout"
    why = "too little dropout overfits, too much underfits."
    log_axis = False


@register
@dataclass(frozen=True)
class OptimizerChoice(Sensitivity):
    id = "optimizer_sensitivity"
    order = 200
    title = "Result depends on the optimizer"
    key = "optim.name"
    label = "the optimizer"
    why = "SGD, momentum, Adagrad, RMSprop and Adam reach different results at the same budget."
    categorical = True


@register
@dataclass(frozen=True)
class ActivationChoice(Sensitivity):
    id = "activation_sensitivity"
    order = 210
    title = "Result depends on the activation"
    key = "model.activation"
    label = "the activation function"
    why = "sigmoid and tanh saturate and starve deep nets of gradient where ReLU does not."
    categorical = True


@register
@dataclass(frozen=True)
class ScheduleChoice(Sensitivity):
    id = "schedule_sensitivity"
    order = 220
    title = "Result depends on the lr schedule"
    key = "sched.name"
    label = "the learning-rate schedule"
    why = "a decay or warm-up changes where the loss settles and whether early steps blow up."
    categorical = True


@register
@dataclass(frozen=True)
class LossChoice(Sensitivity):
    id = "loss_sensitivity"
    order = 230
    title = "Result depends on the loss function"
    key = "loss.name"
    label = "the loss function"
    why = "a loss that does not match the output layer (probabilities fed to a log-likelihood) learns the wrong thing."
    categorical = True
    scores_only = True
