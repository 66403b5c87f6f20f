"""A large share of ReLU units that output zero on every input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import scaled_lr
from diagnostics.rundata import RunData

LR_FACTOR = 0.3  # the fix's lr: about half an order of magnitude lower


@register
@dataclass(frozen=True)
class DeadRelu(Rule):
    """What it detects:
    A layer whose logged ``dead_frac/<layer>`` (share of ReLU units at zero on every
    training input) stays above half over the judged part of the run.

    Why it matters:
    A dead unit has zero gradient and never comes back: the layer's effective width
    shrinks, and with many dead layers training stalls.

    Suggested fix:
    LeakyReLU or ELU; a lower learning rate (large steps kill units); better
    initialisation (He).

    Parameters:
    threshold: dead share of a layer that counts (SageMaker's 50%).
    judge_from: share of training skipped before judging.
    severe: dead share reported as critical.

    References:
    SageMaker Debugger DeadRelu rule (threshold_layer 50%); Lu et al., "Dying ReLU and
    Initialization" (2019); Maas et al., "Rectifier Nonlinearities" (LeakyReLU, 2013).
    """

    id = "dead_relu"
    order = 100
    title = "Dead ReLU units"
    severity = "warning"
    requires = (("dead_frac/*",),)

    threshold: float = 0.5
    judge_from: float = 0.5
    severe: float = 0.9

    def check(self, run: RunData) -> list[Finding]:
        dead = {}
        span = (np.inf, -np.inf)
        for suffix, series in run.prefixed("dead_frac/").items():
            x, y = series.finite()
            if len(y) < 2:
                continue
            judged = x >= x[0] + self.judge_from * (x[-1] - x[0])
            dead[f"dead_frac/{suffix}"] = float(np.median(y[judged]))
            span = (min(span[0], float(x[judged][0])), max(span[1], float(x[-1])))
        over = {k: v for k, v in dead.items() if v > self.threshold}
        if not over:
            return []
        worst = max(over, key=over.get)
        listed = ", ".join(f"{k.split('/', 1)[1]} {v:.0%}" for k, v in over.items())
        summary = (
            f"{len(over)} of {len(dead)} ReLU layers have more than {self.threshold:.0%} dead units "
            f"(median from {run.when(span[0])}): {listed}."
        )
        values = {"dead_share": dead, "worst_layer": worst, "worst_share": over[worst]}
        marks = ({"kind": "hline", "value": self.threshold, "label": f"{self.threshold:.0%} dead"},)
        fixes = [
            Fix(
                "Use LeakyReLU",
                "a small negative slope keeps a gradient flowing through every unit",
                {"model.activation": "leaky_relu"},
            ),
            Fix(
                f"Lower the learning rate (×{LR_FACTOR:g})",
                "large steps push units into the dead zone for good",
                scaled_lr(run, LR_FACTOR),
            ),
            Fix("Use He initialisation", "keeps pre-activations centred so fewer units start dead"),
        ]
        return [
            self.finding(
                summary,
                Evidence(worst, int(span[0]), int(span[1]), values, marks),
                fixes,
                severity="critical" if over[worst] >= self.severe else "warning",
            )
        ]
