"""One rank of a multi-process job whose step time stays far above the other ranks'."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import STEP_TIME, rank_series


@register
@dataclass(frozen=True)
class RankStraggler(Rule):
    """What it detects:
    In a run that logs per-rank step times (``sys/step_time@<rank>``, one series per
    process of a DDP job; rank 0's is the run's own ``sys/step_time``), one rank whose
    median step time is at least ``min_ratio`` times the median of the other ranks', and
    stays so: the run's steps are cut into ``segments``
    equal stretches and the rank must be that slow in at least ``min_share`` of those that
    every rank logged in. Step time here is the time a rank spends outside the collective
    waits; where it is measured across the all-reduce every rank shows the same wall time
    and nothing stands out.

    Why it matters:
    Synchronous data-parallel training runs at the pace of its slowest rank: every other
    GPU waits at each all-reduce, so one straggler costs the whole job its speed.

    Suggested fix:
    Look at the slow rank's machine and GPU (another process on it, thermal or power
    throttling, a slower device or link), its data path (dataloader workers, a remote shard)
    and its share of the work (uneven sequence lengths per rank: bucket by length).

    Parameters:
    min_points: step-time samples each rank needs (after the warm-up) before judging.
    warmup: share of each rank's first samples skipped.
    min_ratio: the slow rank's median step time over the other ranks' median.
    segments: stretches of the run the persistence is checked in.
    min_share: share of the stretches in which the rank must be that slow.

    References:
    Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel Training"
    (VLDB 2020); PyTorch DDP notes (gradient all-reduce synchronises every rank each step).
    """

    id = "rank_straggler"
    order = 230
    title = "A rank straggles"
    severity = "warning"

    min_points: int = 4
    warmup: float = 0.1
    min_ratio: float = 1.3
    segments: int = 4
    min_share: float = 0.75

    def applies(self, run: RunData) -> bool:
        return len(rank_series(STEP_TIME, run.names)) >= 2

    def check(self, run: RunData) -> list[Finding]:
        ranks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        ranks_named = rank_series(STEP_TIME, run.names)
        for rank, name in ranks_named.items():
            x, y = curves.finite(run.get(name))
            skip = int(len(y) * self.warmup)
            if len(y) - skip >= self.min_points:
                ranks[rank] = (x[skip:], y[skip:])
        if len(ranks) < 2:
            return []
        medians = {r: float(np.median(y)) for r, (_, y) in ranks.items()}
        slow = max(medians, key=medians.__getitem__)
        others = float(np.median([m for r, m in medians.items() if r != slow]))
        if others <= 0 or medians[slow] < self.min_ratio * others:
            return []
        share = self._slow_share(ranks, slow)
        if share < self.min_share:
            return []
        ratio = medians[slow] / others
        name = ranks_named[slow]
        summary = (f"Rank {slow}'s step time is {ratio:.2f}× the other {len(ranks) - 1} rank(s)' "
                   f"(median {curves.fmt(medians[slow])} s vs {curves.fmt(others)} s), in {share:.0%} of the run: "
                   "every other rank waits for it at each synchronisation.")
        x = ranks[slow][0]
        values = {"rank": slow, "ratio": ratio, "median_s": medians[slow], "others_median_s": others,
                  "share": share, "ranks": len(ranks)}
        related = tuple(ranks_named[r] for r in ranks if r != slow)
        evidence = Evidence(name, int(x[0]), int(x[-1]), values,
                            ({"kind": "hline", "value": others, "label": "other ranks"},), related)
        fixes = [
            Fix(f"Check rank {slow}'s machine and GPU (other processes, throttling, a slower device or link)",
                f"it takes {ratio:.2f}× as long per step and the job runs at its pace"),
            Fix(f"Check rank {slow}'s data path (dataloader workers, a remote or slower shard)",
                "a rank that waits for data waits alone, then makes the others wait"),
            Fix("Balance the work per rank (bucket sequences by length)",
                "uneven batches make some ranks slower every step"),
        ]
        return [self.finding(summary, evidence, fixes)]

    def _slow_share(self, ranks: dict[int, tuple[np.ndarray, np.ndarray]], slow: int) -> float:
        """Share of the stretches, among those every rank logged in, where ``slow`` is ``min_ratio`` slower."""
        lo = max(float(x[0]) for x, _ in ranks.values())
        hi = min(float(x[-1]) for x, _ in ranks.values())
        if hi <= lo:
            return 0.0
        edges = np.linspace(lo, hi, self.segments + 1)
        judged = slower = 0
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            inside = {r: y[(x >= a) & (x <= b)] for r, (x, y) in ranks.items()}
            if any(len(v) == 0 for v in inside.values()):
                continue
            judged += 1
            other = float(np.median([np.median(v) for r, v in inside.items() if r != slow]))
            slower += float(np.median(inside[slow])) >= self.min_ratio * other
        return slower / judged if judged else 0.0
