"""Per-layer gradient norms that shrink by orders of magnitude toward the input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import cfg, chance_classes, epoch_loss, step_loss
from diagnostics.rundata import RunData

NORM_FLOOR = 1e-30  # an input-side norm of exactly zero: the ratio stays finite
END_SHARE = 0.1  # the loss's end level: the median of its last tenth
ADAM_LR = 1e-3  # the fix's lr for Adam: its customary default


def layer_medians(run: RunData, judge_from: float) -> tuple[list[str], np.ndarray, float, float] | None:
    """Median gradient norm of each ``grad_norm/<layer>`` (input first) over the judged part."""
    layers = run.prefixed("grad_norm/")
    if len(layers) < 2:
        return None
    names, medians, starts, ends = [], [], [], []
    for suffix, series in layers.items():
        x, y = series.finite()
        if len(y) < 2:
            continue
        judged = x >= x[0] + judge_from * (x[-1] - x[0])
        names.append(f"grad_norm/{suffix}")
        medians.append(float(np.median(y[judged])))
        starts.append(float(x[judged][0]))
        ends.append(float(x[-1]))
    if len(names) < 2:
        return None
    return names, np.array(medians), min(starts), max(ends)


@register
@dataclass(frozen=True)
class VanishingGradients(Rule):
    """What it detects:
    Per-layer gradient norms (``grad_norm/<layer>``, input first) that shrink by orders of
    magnitude from the output toward the input, or an input-side norm below 1e-7 while
    the output side still gets gradient; the loss often sits at ln(classes).

    Why it matters:
    The layers near the input stop learning: the network behaves like a much shallower
    one with random features in front, and the loss stays stuck.

    Suggested fix:
    ReLU/LeakyReLU instead of sigmoid/tanh; He/Xavier initialisation; batch
    normalisation; residual connections; Adam.

    Parameters:
    judge_from: share of training skipped before judging.
    min_ratio: output-side over input-side gradient norm that counts as vanishing.
    abs_threshold: an input-side norm below this counts as vanished (SageMaker's 1e-7).
    alive: the output side must have at least this norm (else nothing flows at all).

    References:
    SageMaker Debugger VanishingGradient rule (threshold 1e-7); Glorot & Bengio,
    "Understanding the difficulty of training deep feedforward neural networks" (2010);
    Hochreiter (1991).
    """

    id = "vanishing_gradients"
    order = 40
    title = "Vanishing gradients"
    severity = "warning"
    requires = (("grad_norm/*",),)

    judge_from: float = 0.3
    min_ratio: float = 1e4
    abs_threshold: float = 1e-7
    alive: float = 1e-5

    def check(self, run: RunData) -> list[Finding]:
        found = layer_medians(run, self.judge_from)
        if found is None:
            return []
        names, med, start, end = found
        first, out = med[0], float(np.max(med[1:]))
        if out < self.alive:
            return []
        ratio = out / max(first, NORM_FLOOR)
        if ratio < self.min_ratio and first >= self.abs_threshold:
            return []
        orders = np.log10(ratio)
        loss = epoch_loss(run) or step_loss(run)
        stuck = ""
        if loss is not None:
            _, ly = loss.finite()
            k = chance_classes(curves.level(ly, END_SHARE, end=True)) if len(ly) else None
            if k:
                stuck = f"; the loss is stuck at ln {k}, a uniform guess over {k} classes"
        summary = (
            f"Gradients shrink {orders:.1f} orders of magnitude toward the input: {names[0]} "
            f"{curves.fmt(first)} vs up to {curves.fmt(out)} near the output (medians from "
            f"{run.when(start)}){stuck}."
        )
        values = {
            "per_layer_median": dict(zip(names, med.tolist(), strict=False)),
            "ratio": ratio,
            "orders": float(orders),
        }
        marks = (
            {"kind": "hline", "value": self.abs_threshold, "label": "1e-7"},
            {"kind": "span", "start": start, "end": end, "label": "judged"},
        )
        return [
            self.finding(summary, Evidence(names[0], int(start), int(end), values, marks), self._fixes(run))
        ]

    def _fixes(self, run: RunData) -> list[Fix]:
        act = cfg(run, "model.activation")
        fixes = [
            Fix(
                "Use ReLU (or LeakyReLU) instead of " + (act or "saturating activations"),
                "sigmoid/tanh derivatives are at most 0.25/1 and multiply across layers",
                {"model.activation": "relu"} if act in ("sigmoid", "tanh") else None,
            ),
            Fix(
                "Add batch normalisation",
                "keeps each layer's inputs in the non-saturated range",
                None if cfg(run, "model.batch_norm") else {"model.batch_norm": True},
            ),
            Fix("Use He/Xavier initialisation", "scales the weights so gradients keep their size"),
        ]
        if cfg(run, "optim.name") in ("sgd", "momentum", "nesterov"):
            fixes.append(
                Fix(
                    "Use Adam",
                    "per-parameter step sizes rescale small gradients",
                    {"optim.name": "adam", "optim.lr": ADAM_LR},
                )
            )
        fixes.append(Fix("Add residual connections", "identity paths carry the gradient past the deep stack"))
        return fixes
