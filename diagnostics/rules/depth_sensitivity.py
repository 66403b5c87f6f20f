"""depth_sensitivity: across runs that differ only in depth, the deeper net fits the training set worse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from diagnostics.base import ComparisonRule, register
from diagnostics.compare import sweep_groups
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rundata import RunData

END_PARTS = 10  # where a run ends: the median of its last tenth (one noisy epoch is not its level)


@register
@dataclass(frozen=True)
class DepthSensitivity(ComparisonRule):
    """What it detects:
    Across runs identical except for ``model.depth`` (seeds aside), the deepest net ends with a
    clearly higher training loss than the shallowest: at least ``min_ratio`` times it and
    ``min_gap`` above it (median of the last tenth of the epoch-level training loss).

    Why it matters:
    A deeper net that fits the *training* set worse is under-trained (an optimisation problem),
    not overfit: He et al. found a 56-layer plain net worse than a 20-layer one on the training
    set. Regularising it against overfitting would make it worse.

    Suggested fix:
    Residual connections or batch norm make deep stacks trainable; else use the shallower depth.

    Parameters:
    min_ratio: the deep net's final training loss over the shallow one's that counts (1.2).
    min_gap: the absolute difference of those losses that counts too (0.05).

    References:
    He et al., "Deep Residual Learning for Image Recognition" (2015), section 4.1.
    """

    id = "depth_sensitivity"
    order = 200
    title = "Deeper is worse on the training set"
    key = "model.depth"
    min_ratio: float = 1.2
    min_gap: float = 0.05

    def check_runs(self, runs: Sequence[RunData]) -> list[Finding]:
        found = (self._deeper_is_worse(members) for members in sweep_groups(runs, self.key))
        return [f for f in found if f is not None]

    def _deeper_is_worse(self, members: list[RunData]) -> Finding | None:
        points = []
        for run in members:
            series = run.first("train/loss_eval", "train/loss_epoch", "train/loss")
            if series is None:
                continue
            _, y = series.finite()
            if len(y):
                points.append((float(run.config[self.key]), float(np.median(y[-max(1, len(y) // END_PARTS) :]))))
        if len({d for d, _ in points}) < 2:
            return None
        points.sort()
        shallow, deep = points[0], points[-1]
        if deep[1] <= self.min_ratio * shallow[1] or deep[1] - shallow[1] < self.min_gap:
            return None
        summary = (
            f"The deeper net fits the training set worse: depth {deep[0]:g} ends at train loss {deep[1]:.3g} vs "
            f"{shallow[1]:.3g} at depth {shallow[0]:g}. That is under-training (optimisation), not overfitting."
        )
        values = {"key": self.key, "points": [{"value": d, "train_loss": v} for d, v in points]}
        fixes = (
            Fix("Add residual connections or batch norm to the deep net", "they make deep stacks trainable",
                {"model.batch_norm": True}),
            Fix(f"Use depth {shallow[0]:g}", "it fits the training set better", {self.key: int(shallow[0])}),
        )
        return Finding(self.id, self.severity, self.title, summary, Evidence("train/loss", None, None, values),
                       fixes)
