"""NaN/inf in the loss, or a loss far above where it started."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import LOSS_NAMES, cfg, scaled_lr
from diagnostics.rundata import RunData, Series


@register
@dataclass(frozen=True)
class Divergence(Rule):
    """What it detects:
    A loss that became NaN or infinite, or a (positive) loss whose smoothed end level is
    far above its starting level.

    Why it matters:
    Once the loss is NaN every weight it touches is NaN: the rest of the run is wasted.
    A loss climbing far above its start means the steps overshoot and feed on themselves.

    Suggested fix:
    Lower the learning rate; gradient clipping; warm-up; look for NaN in the inputs;
    numerically stable losses (log-softmax, BCEWithLogitsLoss).

    Parameters:
    rise_factor: end level over start level that counts as diverged (finite case).
    min_points: points needed for the finite case.

    References:
    Goodfellow et al., Deep Learning, ch. 8.2.4 (cliffs and exploding gradients);
    PyTorch anomaly detection (torch.autograd.set_detect_anomaly).
    """

    id = "divergence"
    order = 10
    title = "Training diverged"
    severity = "critical"
    requires = (LOSS_NAMES,)

    rise_factor: float = 3.0
    min_points: int = 10

    def check(self, run: RunData) -> list[Finding]:
        alive = any(np.isfinite(s.values).any() for s in run.series.values())
        for name in LOSS_NAMES:
            series = run.get(name)
            if series is None or np.isfinite(series.values).all():
                continue
            # NaN from the first value counts only when something else was logged: an all-NaN
            # file is a broken log, not a run that diverged
            if np.isfinite(series.values[0]) or alive:
                return [self._non_finite(run, series)]
        for name in LOSS_NAMES:
            series = run.get(name)
            if series is not None:
                found = self._rise(run, series)
                if found:
                    return found
        return []

    def _non_finite(self, run: RunData, series: Series) -> Finding:
        bad = int(np.argmax(~np.isfinite(series.values)))
        step = float(series.steps[bad])
        kind = "NaN" if np.isnan(series.values[bad]) else "inf"
        before = series.values[:bad]
        share = float((~np.isfinite(series.values[bad:])).mean())
        tail = ""
        if len(before):
            tail = f" after rising from {curves.fmt(before[0])} to {curves.fmt(before[-1])}"
        summary = (
            f"{series.name} became {kind} at {run.when(step)}{tail}; "
            f"{share:.0%} of the values from there on are NaN/inf."
        )
        values = {
            "first_bad_step": step,
            "kind": kind,
            "last_finite": float(before[-1]) if len(before) else None,
            "first_value": float(before[0]) if len(before) else None,
            "share_bad_after": share,
        }
        marks = ({"kind": "vline", "step": step, "label": f"first {kind}"},)
        if len(before):
            marks += (
                {
                    "kind": "point",
                    "step": float(series.steps[bad - 1]),
                    "value": float(before[-1]),
                    "label": "last finite value",
                },
            )
        return self.finding(
            summary,
            Evidence(series.name, int(step), int(series.steps[-1]), values, marks),
            self._fixes(run),
            title=f"Loss became {kind} at {run.when(step)}",
        )

    def _rise(self, run: RunData, series: Series) -> list[Finding]:
        x, y = curves.reduce(*series.finite())
        if len(y) < self.min_points:
            return []
        start = max(curves.level(y, 0.1, end=False), float(y[0]))
        end = curves.level(y, 0.1, end=True)
        if start <= 0 or end < self.rise_factor * start:
            return []
        summary = (
            f"{series.name} rose from {curves.fmt(start)} at the start to {curves.fmt(end)} at the end "
            f"({end / start:.1f}× higher)."
        )
        k = max(1, len(y) // 10)
        values = {"start_level": start, "end_level": end, "ratio": end / start}
        marks = (
            {"kind": "hline", "value": start, "label": "starting level"},
            {"kind": "span", "start": float(x[-k]), "end": float(x[-1]), "label": "far above start"},
        )
        return [
            self.finding(
                summary, Evidence(series.name, int(x[0]), int(x[-1]), values, marks), self._fixes(run)
            )
        ]

    def _fixes(self, run: RunData) -> list[Fix]:
        fixes = [
            Fix(
                "Lower the learning rate (×0.1)",
                "overshooting steps are the usual cause",
                scaled_lr(run, 0.1),
            ),
            Fix(
                "Clip gradients (max norm 1)",
                "one huge gradient cannot throw the weights away",
                {"train.clip_grad": 1.0},
            ),
            Fix(
                "Warm the learning rate up",
                "early steps on a fresh net are the most fragile",
                {"sched.name": "warmup", "sched.warmup_steps": 100},
            ),
            Fix("Look for NaN/inf in the inputs and labels", "one bad sample poisons the whole batch"),
        ]
        if cfg(run, "model.head") == "softmax" or cfg(run, "loss.name") == "mse":
            fixes.append(
                Fix(
                    "Use a numerically stable loss (logits + CrossEntropyLoss)",
                    "log-softmax inside the loss avoids log(0) and huge gradients",
                    {"model.head": "logits", "loss.name": "cross_entropy"},
                )
            )
        else:
            fixes.append(
                Fix(
                    "Use numerically stable losses (log-softmax, BCEWithLogitsLoss)",
                    "they avoid log(0) and overflow",
                )
            )
        return fixes
